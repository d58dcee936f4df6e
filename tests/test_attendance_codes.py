"""attendance_summary on integer codes gives the frame the text-keyed implementation gave (kept here as reference)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.categorical_text import categories_as_text
from evalkit.data_source import coerce_tables, example_tables
from evalkit.engagement import (
    _attendance_published,
    _attended_dose,
    _dose_distribution,
    _group_quartiles,
    attendance_summary,
)
from evalkit.rules import PairingRules

OPEN = PairingRules(suppression_threshold=1)


def _reference_attendance_summary(
    tables: Mapping[str, pd.DataFrame],
    *,
    by: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
) -> pd.DataFrame:
    """attendance_summary as it was at f042824 (text participant ids, copies of the contacts)."""
    rules = PairingRules() if rules is None else rules
    by = list(by)
    t = coerce_tables(tables)
    from evalkit.episodes import _arrow_strings, _participant_frame, _positions

    # grouped on text (the participant frame holds descriptive text as categoricals): the groups that occur,
    # every dose bin for each, and text columns in the table; only the columns used (each filter copies them)
    p = _participant_frame(t)
    p = categories_as_text(p[list(dict.fromkeys(["participant_id", "programme_id", "sessions_attended", *by]))], by)
    c = t.get("contacts")
    if c is None:
        c = pd.DataFrame(columns=["programme_id", "participant_id", "contact_date", "status"])
    with_rows = set(c["programme_id"].dropna().astype(str).unique())
    # the contacts of known participants with their grouping columns: an inner join on the participant (unique in
    # the participant frame), in the contacts' order, as look-ups by position
    keyed = [k for k in by if k != "participant_id"]
    pos = _positions(c["participant_id"], _arrow_strings(p["participant_id"]))
    known = pos >= 0
    cc = c.loc[known, [x for x in ("participant_id", "contact_date", "status") if x not in keyed]]
    cc = cc.reset_index(drop=True).assign(**{k: p[k].array.take(pos[known]) for k in keyed})
    status = cc["status"].astype("string")
    att = cc[(status == "attended").fillna(False)]
    no_rows = ~p["programme_id"].astype(str).isin(with_rows).to_numpy(dtype=bool)
    p = p.assign(_n=_attended_dose(p, att, no_rows), _src=np.where(no_rows, "sessions_attended", "contacts"))
    out = _dose_distribution(p, by)  # unchanged: shared with the new code
    # gaps between consecutive attended contacts, weeks engaged
    if len(att):
        aa = att.sort_values(["participant_id", "contact_date"])
        gap = aa.groupby("participant_id")["contact_date"].diff().dt.days
        aa = aa.assign(_gap=gap)
        gg = aa[aa["_gap"].notna()].groupby(by, sort=True, dropna=False)["_gap"]
        out = out.join(pd.DataFrame({"gap_days_median": gg.median(), "gap_days_q1": gg.quantile(0.25),
                                     "gap_days_q3": gg.quantile(0.75), "n_gaps": gg.size()}))
        span = aa.groupby("participant_id")["contact_date"].agg(["min", "max"])
        weeks = ((span["max"] - span["min"]).dt.days / 7.0).rename("_w")
        pw = p.merge(weeks, left_on="participant_id", right_index=True, how="inner")
        wg = pw.groupby(by, sort=True, dropna=False)["_w"]
        out = out.join(pd.DataFrame({"weeks_engaged_median": wg.median(), "weeks_engaged_q1": wg.quantile(0.25),
                                     "weeks_engaged_q3": wg.quantile(0.75)}))
        # the attended contacts' copies let go before the counts of every contact: `evalkit report` at 1M
        # participants (10.6M contacts) peaked here at 7,064 MiB with them held, 6,665 MiB without (peak then above)
        del att, aa, gap, gg, span, weeks, pw, wg
        cs = cc.assign(_off=1, _att=(status == "attended").fillna(False).astype(int),
                       _dna=(status == "did_not_attend").fillna(False).astype(int),
                       _can=status.str.startswith("cancelled").fillna(False).astype(int))
        sums = cs.groupby(by, sort=True, dropna=False)[["_off", "_att", "_dna", "_can"]].sum()
        sums.columns = ["n_contacts_offered", "n_contacts_attended", "n_contacts_dna", "n_contacts_cancelled"]
        out = out.join(sums)
    return _attendance_published(out, rules)  # unchanged: shared with the new code


def _same(tables: Mapping[str, pd.DataFrame], by: Sequence[str], rules: PairingRules | None = None) -> None:
    new = attendance_summary(tables, by=by, rules=rules)
    ref = _reference_attendance_summary(tables, by=by, rules=rules)
    pd.testing.assert_frame_equal(new, ref, check_exact=True)


BYS = [("programme_id",), ("programme_id", "perinatal_stage"), ("programme_id", "referral_source"),
       ("perinatal_stage",), ("programme_id", "ethnicity"), ("participant_id",)]


@pytest.mark.parametrize("by", BYS)
@pytest.mark.parametrize("rules", [None, OPEN])
def test_example_data(by: tuple[str, ...], rules: PairingRules | None) -> None:
    _same(example_tables(), by, rules)


def test_example_data_with_missing_groups_dates_and_status() -> None:
    t = example_tables()
    p, c = t["participants"].copy(), t["contacts"].copy()
    p.loc[p.index[::5], "perinatal_stage"] = pd.NA
    p.loc[p.index[1::7], "referral_source"] = pd.NA
    c.loc[c.index[::9], "contact_date"] = pd.NaT
    c.loc[c.index[1::11], "status"] = pd.NA
    c.loc[c.index[2::13], "participant_id"] = "nobody"
    t = {**t, "participants": p, "contacts": c}
    for by in BYS:
        _same(t, by, OPEN)


def test_categorical_status_and_no_contacts() -> None:
    t = example_tables()
    c = t["contacts"]
    _same({**t, "contacts": c.assign(status=c["status"].astype("category"))}, ("programme_id",), OPEN)
    _same({**t, "contacts": c.iloc[:0]}, ("programme_id",), OPEN)
    _same({k: v for k, v in t.items() if k != "contacts"}, ("programme_id",), OPEN)
    none_attended = c.assign(status=c["status"].where(c["status"] != "attended", "did_not_attend"))
    _same({**t, "contacts": none_attended}, ("programme_id",), OPEN)


PIDS = [f"p{i}" for i in range(6)]
STATUSES = ["attended", "attended", "attended", "did_not_attend", "cancelled_by_service", "cancelled_by_participant", None]
DAYS = [pd.NaT, *pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-09", "2025-03-01"]),
        pd.Timestamp("2025-01-02 12:00")]


@st.composite
def _small_tables(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    n = draw(st.integers(0, 6))
    progs = ["P1", "P2", "P3"]
    p = pd.DataFrame({
        "participant_id": PIDS[:n],
        "programme_id": draw(st.lists(st.sampled_from(["P1", "P1", "P2", "P3", None]), min_size=n, max_size=n)),
        "perinatal_stage": draw(st.lists(st.sampled_from(["antenatal", "postnatal", None]), min_size=n, max_size=n)),
        "sessions_attended": pd.array(draw(st.lists(st.sampled_from([None, 0, 1, 3, 9]), min_size=n, max_size=n)),
                                      dtype="Int64"),
    })
    m = draw(st.integers(0, 30))
    rows = draw(st.lists(st.tuples(st.sampled_from([*PIDS, *PIDS[:3], "stranger", None]), st.sampled_from([*progs[:2], None]),
                                   st.sampled_from(range(len(DAYS))), st.sampled_from(STATUSES)),
                         min_size=m, max_size=m))
    c = pd.DataFrame({
        "contact_id": [f"c{i}" for i in range(m)],
        "participant_id": [r[0] for r in rows], "programme_id": [r[1] for r in rows],
        "contact_date": pd.Series([DAYS[r[2]] for r in rows], dtype="datetime64[ns]"),
        "status": [r[3] for r in rows],
    })
    return coerce_tables({"programmes": pd.DataFrame({"programme_id": progs}), "participants": p, "contacts": c})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_small_tables(), st.sampled_from([("programme_id",), ("programme_id", "perinatal_stage"),
                                         ("perinatal_stage",), ("participant_id",)]))
def test_small_tables(tables: dict[str, pd.DataFrame], by: tuple[str, ...]) -> None:
    _same(tables, by, OPEN)
    _same(tables, by, None)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 60).map(float), st.integers(0, 400).map(lambda d: d / 7.0))),
    max_size=60))
def test_group_quartiles_are_pandas_floats(rows: list[tuple[int, float]]) -> None:
    codes = np.array([r[0] for r in rows], dtype=np.int64)
    values = np.array([r[1] for r in rows], dtype=np.float64)
    g = pd.Series(values).groupby(codes, sort=True)
    want = pd.DataFrame({"median": g.median(), "q1": g.quantile(0.25), "q3": g.quantile(0.75), "n": g.size()})
    got = _group_quartiles(values, codes, 6)
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_index_type=False)
    assert got.index.tolist() == want.index.tolist()


def test_hand_made_times_same_days_missing_dates() -> None:
    """A gap from midday is whole days (floored); same-day, undated and single contacts as before."""
    p = pd.DataFrame({"participant_id": ["a", "b", "c", "d"], "programme_id": ["P1", "P1", "P2", "P3"],
                      "sessions_attended": pd.array([None, None, None, 4], dtype="Int64")})
    when = pd.to_datetime(pd.Series(["2025-01-02 12:00", "2025-01-09", "2025-01-09", None, "2025-01-03",
                                     None, "2025-02-01", "2025-02-01"]), format="mixed")
    c = pd.DataFrame({"contact_id": [str(i) for i in range(8)],
                      "participant_id": ["a", "a", "a", "a", "b", "c", "zz", "c"],
                      "programme_id": ["P1", "P1", "P1", "P1", "P1", "P2", "P2", "P2"],
                      "contact_date": when.astype("datetime64[ns]"),
                      "status": ["attended", "attended", "attended", "attended", "attended", "attended", "attended",
                                 None]})
    t = coerce_tables({"participants": p, "contacts": c})
    out = attendance_summary(t, rules=OPEN)
    assert out.loc[out["programme_id"] == "P1", "gap_days_median"].tolist() == [3.0]  # gaps 6 and 0 (a)
    for by in (("programme_id",), ("participant_id",)):
        _same(t, by, OPEN)
