"""The funnel and its reasons for leaving are one disclosure problem (audit finding 2).

A step's reasons add up to the funnel's ``n_left`` at that step, and the funnel's steps chain
(``n_prev = n + n_left``). Disclosing the two tables separately let the exits' totals undo the funnel's
hidden cells (example data, P-GROUP: referred 120, took up 57, exits 'took up | all reasons | 60', so
120 - 57 - 60 = 3 never offered).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.engagement import FUNNEL_STEPS, funnel_exits, take_up_funnel
from evalkit.rules import PairingRules

STEPS = list(FUNNEL_STEPS)
REASONS = ("not_ready", "could_not_contact", "other", "stopped_attending")


def _path(groups: dict[str, list[tuple[int, str | None]]]) -> pd.DataFrame:
    """A participant path: per programme, (index of the last step reached, exit reason) per mother."""
    rows = []
    for pid, people in groups.items():
        for i, (last, reason) in enumerate(people):
            row = {"programme_id": pid, "participant_id": f"{pid}-{i}"}
            row.update({s: k <= last for k, s in enumerate(STEPS)})
            row["last_step"] = STEPS[last]
            row["exit_reason"] = None if last == len(STEPS) - 1 else reason
            rows.append(row)
    out = pd.DataFrame(rows)
    for c in ("programme_id", "participant_id", "last_step", "exit_reason"):
        out[c] = out[c].astype("string")
    return out


def _cells(funnel: pd.DataFrame, exits: pd.DataFrame, pid: str) -> tuple[dict[str, float | None], list]:
    """Published cells of one programme's funnel and exits, and the equations between them."""
    f = funnel[funnel["programme_id"] == pid].set_index("step")
    x = exits[exits["programme_id"] == pid]
    pub: dict[str, float | None] = {}
    eqs: list[tuple[tuple[str, ...], str]] = []
    for k, s in enumerate(STEPS):
        pub[f"n:{s}"] = None if pd.isna(f.loc[s, "n"]) else float(f.loc[s, "n"])
        if k:
            pub[f"left:{s}"] = None if pd.isna(f.loc[s, "n_left"]) else float(f.loc[s, "n_left"])
            eqs.append(((f"n:{s}", f"left:{s}"), f"n:{STEPS[k - 1]}"))
    for s, g in x.groupby("step"):
        members = []
        for r in g.itertuples():
            v = None if pd.isna(r.n) else float(r.n)
            if r.is_total:
                assert v == pub[f"left:{s}"], (s, v, pub[f"left:{s}"])  # the total row is the funnel's cell
            else:
                pub[f"x:{s}:{r.reason}"] = v
                members.append(f"x:{s}:{r.reason}")
        eqs.append((tuple(members), f"left:{s}"))
    return pub, eqs


def _recoverable(pub: dict[str, float | None], eqs: list[tuple[tuple[str, ...], str]]) -> set[str]:
    """Hidden cells a reader can work out: solved by linear algebra over every equation at once."""
    hidden = sorted(c for c, v in pub.items() if v is None)
    if not hidden:
        return set()
    pos = {c: j for j, c in enumerate(hidden)}
    a = np.zeros((len(eqs), len(hidden)))
    for i, (members, total) in enumerate(eqs):
        for m in members:
            if m in pos:
                a[i, pos[m]] += 1
        if total in pos:
            a[i, pos[total]] -= 1
    rank = np.linalg.matrix_rank(a) if len(eqs) else 0
    out = set()
    for c, j in pos.items():
        e = np.zeros(len(hidden))
        e[j] = 1
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.add(c)
    return out


def test_exits_total_no_longer_undoes_the_funnel() -> None:
    # 20 referred: 3 never offered (could not contact), 5 declined (not ready), 12 went all the way.
    # The funnel hides 'left before offered' (3), so 'offered' (17) too, then 'left before took up' (5) as
    # the complement of took up (12) under the hidden 17. The exits said 'took up | all reasons | 5', and
    # 20 - 12 - 5 = 3.
    path = _path({"P": [(0, "could_not_contact")] * 3 + [(1, "not_ready")] * 5 + [(6, None)] * 12})
    f = take_up_funnel(path).set_index("step")
    x = funnel_exits(path)
    assert f.loc["referred", "n"] == 20 and f.loc["took_up", "n"] == 12
    assert pd.isna(f.loc["offered", "n"]) and pd.isna(f.loc["offered", "n_left"])
    assert pd.isna(f.loc["took_up", "n_left"])
    took = x[x["step"] == "took_up"].set_index("reason")
    assert pd.isna(took.loc["total", "n"]) and pd.isna(took.loc["not_ready", "n"])
    assert pd.isna(took.loc["not_ready", "pct"])
    pub, eqs = _cells(take_up_funnel(path), x, "P")
    assert not _recoverable(pub, eqs)


def test_funnel_and_exits_hide_the_same_cells_on_the_example(tmp_path) -> None:  # noqa: ANN001
    from evalkit.data_source import example_tables
    from evalkit.engagement import participant_path

    path = participant_path(example_tables())
    f, x = take_up_funnel(path), funnel_exits(path)
    for pid in f["programme_id"].unique():
        pub, eqs = _cells(f, x, pid)
        assert not _recoverable(pub, eqs), pid


_people = st.lists(st.tuples(st.integers(0, len(STEPS) - 1), st.sampled_from(REASONS)), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["A", "B"]), _people, min_size=1, max_size=2), st.sampled_from([3, 5]))
def test_no_hidden_funnel_or_exit_cell_can_be_worked_out(groups: dict, threshold: int) -> None:
    path = _path(groups)
    rules = PairingRules(suppression_threshold=threshold)
    f, x = take_up_funnel(path, rules=rules), funnel_exits(path, rules=rules)
    for pid in groups:
        pub, eqs = _cells(f, x, pid)
        assert not _recoverable(pub, eqs), (pid, pub)
        for c, v in pub.items():  # and nothing small is published
            assert v is None or v == 0 or v >= threshold, (c, v)
