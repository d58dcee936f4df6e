"""Simulation: estimates recover the example generator's true effects, and 95% intervals cover them.

The generator (:mod:`evalkit.generator`) documents its model and returns exact
true effects. Each replication draws a fresh data set (seeded), runs the
library, and records whether each 95% interval covers the truth.

Estimands (see the generator's module docstring, 'Which analysis recovers what'):

* ``mean_change_12w`` -- E[score(12 weeks) - score(0)] among mothers who
  attended at least once -- is estimated by the mixed model
  (:func:`evalkit.longitudinal.mixed_model_change`, change from baseline to
  the 8-16 week window, adjusted for dose) and by multiple imputation of the
  12 +/- 4 week endpoint (:func:`evalkit.longitudinal.multiple_imputation_change`),
  with ``min_dose=1`` so the population is everyone who attended;
* ``take_up_rate`` -- :func:`evalkit.engagement.take_up_rate` (Wilson);
* ``baseline_mean`` -- the mean baseline score of episodes with a baseline
  (t interval), the baselines being missing completely at random.

40 replications of 1,000 referrals, EPDS in the four programmes (160
intervals per estimator). Acceptance: coverage 85-100% and the mean error
small relative to the spread of the estimates. Takes about 25 s of CPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit.engagement import take_up_rate
from evalkit.episodes import prepare_episodes
from evalkit.errors import SmallSampleWarning
from evalkit.generator import generate_programmes
from evalkit.longitudinal import mixed_model_change, multiple_imputation_change
from evalkit.rules import PairingRules

pytestmark = pytest.mark.slow

N_PARTICIPANTS = 1000
REPLICATIONS = 40
RULES = PairingRules(min_dose=1, endpoint_rule="window", suppression_threshold=1)


@pytest.fixture(scope="module")
def replications() -> dict[str, pd.DataFrame]:
    change_rows, other_rows = [], []
    for rep in range(REPLICATIONS):
        data = generate_programmes(N_PARTICIPANTS, seed=5000 + rep)
        tables = dict(data.tables)
        tables["measures"] = tables["measures"][tables["measures"]["instrument"] == "epds"]
        ed = prepare_episodes(tables, rules=RULES)
        with warnings.catch_warnings():
            # a replication may have too few mothers in the 8-16 week window of one programme to fit the model
            warnings.simplefilter("ignore", SmallSampleWarning)
            mm = mixed_model_change(ed.scores, ed.episodes, rules=RULES)
        mi = multiple_imputation_change(ed.episodes, rules=RULES)
        te = data.true_effects
        truth = te[te["quantity"] == "mean_change_12w"][["programme_id", "instrument", "value"]]
        est = mm.merge(mi, on=["programme_id", "instrument"]).merge(truth, on=["programme_id", "instrument"])
        est["rep"] = rep
        change_rows.append(est)
        tu = take_up_rate(tables, rules=RULES)
        ep = ed.episodes[ed.episodes["baseline_score"].notna() & ed.episodes["anchor_date"].notna()]
        for prog, g in ep.groupby("programme_id"):
            x = g["baseline_score"].to_numpy(dtype=float)
            half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
            t_row = tu[tu["programme_id"] == prog].iloc[0]
            other_rows.append({
                "rep": rep, "programme_id": prog,
                "baseline_mean": x.mean(), "baseline_low": x.mean() - half, "baseline_high": x.mean() + half,
                "baseline_truth": data.true_value(prog, "baseline_mean", "epds"),
                "take_up": t_row["pct_took_up"] / 100, "take_up_low": t_row["pct_took_up_ci_low"] / 100,
                "take_up_high": t_row["pct_took_up_ci_high"] / 100,
                "take_up_truth": data.true_value(prog, "take_up_rate"),
            })
    return {"change": pd.concat(change_rows, ignore_index=True), "other": pd.DataFrame(other_rows)}


def _coverage(est: pd.Series, low: pd.Series, high: pd.Series, truth: pd.Series) -> float:
    return float(((low <= truth) & (truth <= high)).mean())


def test_mixed_model_recovers_12_week_change(replications) -> None:
    f = replications["change"]
    fitted = f["mm_change"].notna()
    assert fitted.mean() >= 0.9  # the model was fitted in almost every replication
    cov = _coverage(f["mm_change"], f["mm_ci_low"], f["mm_ci_high"], f["value"])  # unfitted count as misses
    assert 0.85 <= cov <= 1.0, f"mixed-model coverage {cov:.3f}"
    err = (f["mm_change"] - f["value"])[fitted]
    assert abs(err.mean()) < 0.25 * err.std(), f"mixed-model mean error {err.mean():.3f} (sd {err.std():.3f})"
    assert f.loc[fitted, "mm_converged"].all()


def test_multiple_imputation_recovers_12_week_change(replications) -> None:
    f = replications["change"]
    assert f["mi_mean_change"].notna().all()
    cov = _coverage(f["mi_mean_change"], f["mi_ci_low"], f["mi_ci_high"], f["value"])
    assert 0.85 <= cov <= 1.0, f"MI coverage {cov:.3f}"
    err = f["mi_mean_change"] - f["value"]
    assert abs(err.mean()) < 0.25 * err.std(), f"MI mean error {err.mean():.3f} (sd {err.std():.3f})"


def test_take_up_and_baseline_mean(replications) -> None:
    o = replications["other"]
    cov_t = _coverage(o["take_up"], o["take_up_low"], o["take_up_high"], o["take_up_truth"])
    cov_b = _coverage(o["baseline_mean"], o["baseline_low"], o["baseline_high"], o["baseline_truth"])
    assert 0.85 <= cov_t <= 1.0, f"take-up coverage {cov_t:.3f}"
    assert 0.85 <= cov_b <= 1.0, f"baseline-mean coverage {cov_b:.3f}"
