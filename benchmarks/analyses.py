"""Episodes + outcomes and summaries + comparison against a plain-pandas baseline, and the bare statsmodels fits.

Stage ``outcomes`` (target: episodes + outcomes for 100k participants < 10 s):

* ``episodes`` - :func:`evalkit.episodes.prepare_episodes` (scoring included);
* ``outcomes (models=False)`` - :func:`evalkit.outcomes.evaluate_outcomes` on
  the prepared episodes without the mixed model and imputation;
* ``episodes+outcomes`` - the sum;
* ``naive pre-post (baseline)`` - what an analyst's pandas script does: item
  sums, first and last score per participant x instrument, mean change per
  programme x instrument. No rules, no reliable change, no disclosure control.

Stage ``models`` (its steps run in :mod:`benchmarks.stage_models`; the bare fits are here):

* ``mixed model`` - :func:`evalkit.longitudinal.mixed_model_change`;
* ``multiple imputation`` - :func:`evalkit.longitudinal.multiple_imputation_change`;
* ``statsmodels MixedLM (baseline)`` - bare ``statsmodels`` random-intercept
  fits on the same score series (period dummies from weeks since baseline, one
  model per programme x instrument), as someone would write it directly.

Stage ``summary``:

* ``build_summary`` - :func:`evalkit.summary.build_summary` (all programmes);
* ``compare`` - :func:`evalkit.compare.compare_summaries` of that summary (EPDS, SMCR);
* baseline: the same naive pre-post as above.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import RECORDS, TABLES, load_tables, measure

PREPOST_TABLES = ("programmes", "participants", "contacts", "measures")


def naive_prepost(measures: pd.DataFrame) -> pd.DataFrame:
    items = [c for c in measures.columns if c.startswith("item_")]
    m = measures[["programme_id", "participant_id", "instrument", "completed_on"]].copy()
    m["score"] = measures[items].sum(axis=1, min_count=1)
    m = m.dropna(subset=["score"]).sort_values("completed_on")
    g = m.groupby(["programme_id", "participant_id", "instrument"], observed=True)["score"]
    pp = pd.DataFrame({"first": g.first(), "last": g.last(), "n": g.size()})
    pp = pp[pp["n"] >= 2]
    pp["change"] = pp["last"] - pp["first"]
    return pp.groupby(level=["programme_id", "instrument"])["change"].agg(["mean", "std", "count"])


def _prepost_baseline(stage: str, size: int, tables: dict, of: str) -> None:
    with measure(stage, size, "naive pre-post (baseline)", rows=len(tables["measures"]), baseline_of=of):
        naive_prepost(tables["measures"])


def run_outcomes(size: int, *, root: Path, **_: str) -> None:
    """Episodes, then the outcomes of them (no models), each step's peak measured.

    The episodes are prepared with ``keep_attended=False``: that is what
    ``evaluate_outcomes(tables)`` does (the path of ``evalkit report``, the
    report builder and the dashboard), as none of its analyses reads the
    attended contacts; keeping them would measure 400 MB (at 1M) that no
    user path holds.
    """
    from evalkit.episodes import prepare_episodes
    from evalkit.outcomes import evaluate_outcomes

    tables = load_tables(size, PREPOST_TABLES, root)
    rows = sum(len(f) for f in tables.values())
    with measure("outcomes", size, "episodes", rows=rows) as a:
        data = prepare_episodes(tables, keep_attended=False)
        a["episodes"] = len(data.episodes)
    with measure("outcomes", size, "outcomes (models=False)", rows=rows) as b:
        evaluate_outcomes(data, models=False)
    RECORDS.append({"stage": "outcomes", "size": size, "step": "episodes+outcomes", "rows": rows,
                    "seconds": a["seconds"] + b["seconds"], "cpu_s": round(a["cpu_s"] + b["cpu_s"], 3), "peak_mb": max(a["peak_mb"], b["peak_mb"]),
                    "load1": b["load1"], "note": "target: 100k participants < 10 s"})
    _prepost_baseline("outcomes", size, tables, "episodes+outcomes")


def _bare_mixedlm(scores: pd.DataFrame, rules) -> int:  # noqa: ANN001
    import statsmodels.api as sm

    s = scores.dropna(subset=["score", "weeks_since_baseline"])
    s = s[s["weeks_since_baseline"] <= rules.mm_max_weeks]
    fits = 0
    for _, g in s.groupby(["programme_id", "instrument"], observed=True):
        if g["participant_id"].nunique() < 20:
            continue
        w = g["weeks_since_baseline"].to_numpy(dtype=float)
        lo = rules.followup_weeks - rules.followup_tolerance_weeks
        hi = rules.followup_weeks + rules.followup_tolerance_weeks
        X = np.column_stack([np.ones(len(g)), (w > 0) & (w < lo), (w >= lo) & (w <= hi), w > hi]).astype(float)
        X = X[:, X.any(axis=0)]
        try:
            sm.MixedLM(g["score"].to_numpy(dtype=float), X, groups=g["participant_id"].to_numpy()).fit(reml=True)
        except Exception:  # noqa: BLE001 - a failed fit still took its time
            pass
        fits += 1
    return fits


def run_summary(size: int, *, root: Path, **_: str) -> None:
    from evalkit.compare import compare_summaries
    from evalkit.summary import build_summary

    tables = load_tables(size, TABLES, root)
    rows = sum(len(f) for f in tables.values())
    with measure("summary", size, "build_summary", rows=rows):
        summary = build_summary(tables, created_at="2026-01-01T00:00:00Z")
    with measure("summary", size, "compare", rows=len(summary.results)):
        compare_summaries([summary], instrument="epds")
    _prepost_baseline("summary", size, tables, "build_summary")
