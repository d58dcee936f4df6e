"""evalkit: outcome measurement for community perinatal mental health peer support."""

__version__ = "0.1.0"
