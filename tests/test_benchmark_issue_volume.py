"""The benchmark data at issue #8's volume: about 10 contacts and 4 questionnaires per participant, still valid.

``benchmarks.common.issue_volume`` adds same-day text and telephone contacts and GAD-7 questionnaires to the
example generator's tables. The benchmark's validation must find no error in them (they would change the work
measured), and the added rows must keep every key unique and the canonical dtypes.
"""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.common import issue_volume
from evalkit.generator import generate_programmes
from evalkit.scoring import score
from evalkit.validation import validate


@pytest.fixture(scope="module")
def tables() -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    plain = dict(generate_programmes(2_000, seed=1).tables)
    return plain, issue_volume(plain, seed=1)


def test_rows_per_participant_are_the_issues(tables):
    plain, dense = tables
    n = len(plain["participants"])
    assert len(plain["contacts"]) / n < 6 and len(plain["measures"]) / n < 3.6  # the generator's own volume
    assert 9.5 <= len(dense["contacts"]) / n <= 11.5
    assert 3.6 <= len(dense["measures"]) / n <= 4.2


def test_the_generators_rows_come_first_unchanged_in_their_dtypes(tables):
    plain, dense = tables
    for name, frame in plain.items():
        assert list(dense[name].dtypes) == list(frame.dtypes), name
        pd.testing.assert_frame_equal(dense[name].iloc[:len(frame)], frame, check_exact=True)


def test_the_added_rows_validate_without_errors_and_score_complete(tables):
    _, dense = tables
    result = validate(dense)
    assert result.n_errors == 0, result.report.head(10)
    assert {name: len(frame) for name, frame in result.tables.items()} == {k: len(v) for k, v in dense.items()}
    added = score(result.tables["measures"]).iloc[len(tables[0]["measures"]):]
    assert set(added["instrument"]) == {"gad7"}
    assert (added["score_status"] == "complete").all()
    contacts = dense["contacts"]
    assert not contacts.duplicated(["participant_id", "contact_date", "kind"]).any()
