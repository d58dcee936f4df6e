"""A valid example upload with ~20 planted errors: the report must name every planted problem and nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.schemas import TABLE_NAMES
from evalkit.validation import validate

generator = pytest.importorskip("evalkit.generator")
instruments_module = pytest.importorskip("evalkit.instruments")

TODAY = "2030-01-01"


def as_uploaded(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """A typed frame as a provider's CSV would give it: text cells, provenance columns."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        s = frame[column]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            text = s.dt.strftime("%Y-%m-%d")
        else:
            text = s.astype(object).astype(str)
        out[column] = text.where(s.notna(), None).astype(object)
    out = out.reset_index(drop=True)
    out["source_file"] = f"{table}.csv"
    out["source_row"] = np.arange(2, len(out) + 2)
    return out


@pytest.fixture(scope="module")
def example() -> dict[str, pd.DataFrame]:
    data = generator.generate_programmes(40, seed=3)
    return {name: as_uploaded(data.tables[name], name) for name in TABLE_NAMES}


@pytest.fixture(scope="module")
def registry():
    return instruments_module.load_instruments()


def report_keys(report: pd.DataFrame) -> set[tuple[str, int, str, str]]:
    return {(r.table, int(r.source_row), r.column, r.rule) for r in report.itertuples()}


def test_generated_example_is_clean(example, registry):
    result = validate(example, instruments=registry, today=TODAY)
    assert result.report.empty, result.report["message"].tolist()
    for name in TABLE_NAMES:
        assert len(result.tables[name]) == len(example[name])
        assert result.quarantine[name].empty


def _row_of(frame: pd.DataFrame, **where) -> int:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy()
    return int(np.flatnonzero(mask)[0])


def test_every_planted_error_and_nothing_else(example, registry):
    raw = {k: v.copy() for k, v in example.items()}
    expected: set[tuple[str, int, str, str]] = set()
    p, c, m, g, prog = raw["participants"], raw["contacts"], raw["measures"], raw["group_sessions"], raw["programmes"]
    has_children = set(c["participant_id"]) | set(m["participant_id"])
    childless = [pid for pid in p["participant_id"] if pid not in has_children]

    def plant(frame, table, position, column, value, rule):
        frame.loc[position, column] = value
        expected.add((table, int(frame.loc[position, "source_row"]), column, rule))

    # programmes: an extra programme row with a bad format code (no participants refer to it)
    extra = prog.iloc[[0]].copy()
    extra["programme_id"], extra["source_row"] = "P-EXTRA", len(prog) + 2
    raw["programmes"] = prog = pd.concat([prog, extra], ignore_index=True)
    plant(prog, "programmes", len(prog) - 1, "format", "weekly", "enum")

    # participants (childless, so no cascade)
    pos = {pid: _row_of(p, participant_id=pid) for pid in childless[:7]}
    a, b, cc, d, e, f, h = childless[:7]
    plant(p, "participants", pos[a], "referral_source", "HV2", "enum")
    plant(p, "participants", pos[b], "referral_date", "31/02/2025", "type")
    plant(p, "participants", pos[cc], "deprivation_decile", "11", "maximum")
    plant(p, "participants", pos[d], "main_language", "English", "pattern")
    plant(p, "participants", pos[e], "took_up", "maybe", "type")
    referral = pd.Timestamp(p.loc[pos[f], "referral_date"])
    plant(p, "participants", pos[f], "end_date", (referral - pd.Timedelta(days=3)).strftime("%Y-%m-%d"),
          "before_referral")
    dup = p.iloc[[pos[h]]].copy()
    dup["source_row"] = len(p) + 2
    raw["participants"] = p = pd.concat([p, dup], ignore_index=True)
    expected |= {("participants", pos[h] + 2, "participant_id", "unique"),
                 ("participants", len(p) + 1, "participant_id", "unique")}

    # contacts
    plant(c, "contacts", 0, "participant_id", "M9999", "foreign_key")
    plant(c, "contacts", 1, "status", "came", "enum")
    plant(c, "contacts", 2, "duration_minutes", "700", "maximum")
    plant(c, "contacts", 3, "contact_date", "2031-01-01", "future_date")
    grouped = np.flatnonzero(c["group_session_id"].notna().to_numpy() & (c.index > 5))
    plant(c, "contacts", int(grouped[0]), "group_session_id", "GS-NOPE", "foreign_key")
    plant(c, "contacts", 4, "kind", None, "required")
    other_programme = next(x for x in prog["programme_id"] if x not in (c.loc[5, "programme_id"], "P-EXTRA"))
    plant(c, "contacts", 5, "programme_id", other_programme, "participant_in_two_programmes")
    # a contact dated before its participant's referral: a warning, the row is kept
    one_to_one = int(np.flatnonzero(c["group_session_id"].isna().to_numpy() & (c.index > 5))[0])
    pid = c.loc[one_to_one, "participant_id"]
    referral = pd.Timestamp(p.loc[p["participant_id"] == pid, "referral_date"].iloc[0])
    plant(c, "contacts", one_to_one, "contact_date", (referral - pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
          "before_referral")

    # group_sessions: a head count below the named attendees (warning on the session row)
    attended = c[(c["status"] == "attended") & c["group_session_id"].notna()]
    busiest = attended.groupby("group_session_id")["participant_id"].nunique().idxmax()
    plant(g, "group_sessions", _row_of(g, group_session_id=busiest), "head_count", "0", "head_count_below_named")

    # measures
    epds = np.flatnonzero((m["instrument"] == "epds").to_numpy())
    phq9 = np.flatnonzero((m["instrument"] == "phq9").to_numpy())
    plant(m, "measures", int(epds[0]), "item_3", "7", "item_range")
    plant(m, "measures", int(epds[1]), "item_2", "two", "item_type")
    plant(m, "measures", int(epds[2]), "instrument", "EPDS-X", "unknown_instrument")
    plant(m, "measures", int(epds[3]), "completed_on", "03/04/2025", "ambiguous_date")
    plant(m, "measures", int(phq9[0]), "item_12", "1", "item_range")
    copy = m.iloc[[int(epds[4])]].copy()
    copy["source_row"] = len(m) + 2
    raw["measures"] = m = pd.concat([m, copy], ignore_index=True)
    expected |= {("measures", int(epds[4]) + 2, "participant_id", "primary_key"),
                 ("measures", len(m) + 1, "participant_id", "primary_key")}

    result = validate(raw, instruments=registry, today=TODAY)
    found = report_keys(result.report)
    assert found == expected, {"missing": expected - found, "unexpected": found - expected}
    assert len({rule for *_, rule in expected}) >= 15

    # rows with errors are set aside, rows with warnings kept; nothing lost
    errors = result.report[result.report["severity"] == "error"]
    for name in TABLE_NAMES:
        aside = set(result.quarantine[name]["source_row"].astype(int))
        assert aside == set(errors.loc[errors["table"] == name, "source_row"].astype(int))
        assert len(result.tables[name]) + len(result.quarantine[name]) == len(raw[name])
        assert result.quarantine[name]["reasons"].str.len().gt(0).all()
    warnings = result.report[result.report["severity"] == "warning"]
    assert set(warnings["rule"]) == {"before_referral", "head_count_below_named"}
    assert (result.tables["contacts"]["source_row"] == one_to_one + 2).any()

    # messages name the row and column and say what was found and what was expected
    def message(rule: str) -> str:
        return result.report.loc[result.report["rule"] == rule, "message"].iloc[0]

    assert "'HV2' is not an allowed code; expected one of: self, midwife" in result.report["message"].str.cat()
    assert message("ambiguous_date").startswith(f"Row {int(epds[3]) + 2}, column 'completed_on': '03/04/2025'")
    assert "3 April 2025" in message("ambiguous_date") and "4 March 2025" in message("ambiguous_date")


def test_child_of_a_set_aside_parent_is_set_aside_too(example, registry):
    raw = {k: v.copy() for k, v in example.items()}
    c = raw["contacts"]
    pid = c.loc[0, "participant_id"]
    p = raw["participants"]
    row = _row_of(p, participant_id=pid)
    p.loc[row, "referral_source"] = "nobody"
    result = validate(raw, instruments=registry, today=TODAY)
    fk = result.report[(result.report["rule"] == "foreign_key")]
    n_children = int((c["participant_id"] == pid).sum()) + int((raw["measures"]["participant_id"] == pid).sum())
    assert len(fk) == n_children > 0
    assert fk["message"].str.contains(f"participants.csv row {row + 2}").all()
    assert pid not in set(result.tables["contacts"]["participant_id"])
    assert pid not in set(result.tables["measures"]["participant_id"])
