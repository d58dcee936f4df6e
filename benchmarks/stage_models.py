"""Stage ``models``: the mixed model and multiple imputation, against bare statsmodels ``MixedLM`` fits.

Steps (one process, same data; ``python -m benchmarks.stage_models SIZE [--opt reference=1]``):

* ``mixed model`` - :func:`evalkit.longitudinal.mixed_model_change` (the
  vectorised random-intercept REML plus the cluster jackknife), one model per
  programme x instrument;
* ``multiple imputation`` - :func:`evalkit.longitudinal.multiple_imputation_change`;
* ``statsmodels MixedLM (baseline)`` - bare ``statsmodels`` random-intercept
  REML fits on the same score series (period dummies from weeks since
  baseline, one model per programme x instrument), as someone would write it
  directly (``benchmarks.analyses._bare_mixedlm``), on every participant up
  to 100k participants, so the ratio to ``mixed model`` is the speed-up over
  what statsmodels needs for a comparable fit. Above that
  (``--opt baseline_max_participants=N``, default 100000) it would take most
  of an hour, so it is timed on the scores of a seeded random subset of N
  participants, recorded as ``baseline_participants`` (statsmodels' time
  grows about linearly in the participants, 8-9x per 10x);
* with ``--opt reference=1``: ``mixed model, statsmodels fitter
  (reference)`` - ``mixed_model_change`` with its REML fitter replaced by
  statsmodels ``MixedLM(..., groups=participant).fit(reml=True)`` on the
  very same designs (the implementation before the vectorised REML), and the
  largest differences of ``mm_change`` and ``mm_se`` between the two are
  recorded (``max_abs_diff_change``, ``max_rel_diff_se``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from benchmarks.analyses import PREPOST_TABLES, _bare_mixedlm
from benchmarks.common import load_tables, measure, stage_main


def _statsmodels_fitter(X: np.ndarray, y: np.ndarray, codes: np.ndarray):  # noqa: ANN202
    """The fitter ``mixed_model_change`` used before: statsmodels MixedLM REML with default settings."""
    import statsmodels.api as sm

    from evalkit.longitudinal import _RIFit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.MixedLM(y, X, groups=codes).fit(reml=True)
    return _RIFit(beta=np.asarray(res.fe_params, dtype=float), sigma2=float(res.scale),
                  tau2=float(np.asarray(res.cov_re).ravel()[0]), llf=float(res.llf),
                  converged=bool(res.converged), boundary=False, message="")


def run_models(size: int, *, root: Path, reference: str = "0", baseline_max_participants: str = "100000",
               **_: str) -> None:
    import evalkit.longitudinal as lg
    from evalkit.change import episode_change
    from evalkit.episodes import prepare_episodes
    from evalkit.rules import PairingRules

    rules = PairingRules()
    tables = load_tables(size, PREPOST_TABLES, root)
    data = prepare_episodes(tables, rules=rules)
    changes = episode_change(data.episodes, rules=rules, scored_measures=data.scored_measures)
    by = ["programme_id", "instrument"]
    n_obs = len(data.scores)
    with measure("models", size, "mixed model", rows=n_obs) as r:
        mm = lg.mixed_model_change(data.scores, changes, by=by, rules=rules)
        r["groups"] = len(mm)
        r["converged"] = int(mm["mm_converged"].fillna(False).astype(bool).sum())
    with measure("models", size, "multiple imputation", rows=len(changes)):
        lg.multiple_imputation_change(changes, by=by, rules=rules)
    base_scores = data.scores
    ids = base_scores["participant_id"].unique()
    if len(ids) > int(baseline_max_participants):
        chosen = np.random.default_rng(1).choice(ids, int(baseline_max_participants), replace=False)
        base_scores = base_scores[base_scores["participant_id"].isin(chosen)]
    note = None if base_scores is data.scores else (
        f"on the scores of a random {int(baseline_max_participants):,} of the {len(ids):,} participants")
    with measure("models", size, "statsmodels MixedLM (baseline)", rows=len(base_scores), baseline_of="mixed model",
                 note=note) as r:
        r["fits"] = _bare_mixedlm(base_scores, rules)
        r["baseline_participants"] = int(base_scores["participant_id"].nunique())
    if reference not in ("0", "", "no"):
        fitter = lg._ri_reml
        lg._ri_reml = _statsmodels_fitter
        try:
            with measure("models", size, "mixed model, statsmodels fitter (reference)", rows=n_obs,
                         baseline_of="mixed model") as r:
                ref = lg.mixed_model_change(data.scores, changes, by=by, rules=rules)
        finally:
            lg._ri_reml = fitter
        r["max_abs_diff_change"] = float(np.nanmax(np.abs(mm["mm_change"] - ref["mm_change"])))
        r["max_rel_diff_se"] = float(np.nanmax(np.abs(mm["mm_se"] / ref["mm_se"] - 1)))
        r["same_converged"] = bool((mm["mm_converged"] == ref["mm_converged"]).all())


if __name__ == "__main__":
    stage_main(run_models)
