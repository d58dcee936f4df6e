"""The bad-input corpus (generated at test time by corpus.py) and the tests that feed it to every door."""
