"""The true effects are recoverable from the generated data, and the documented biases are there.

One dataset of 20,000 referrals (seed fixed, four base programmes plus
P-OUTLIER) is analysed the way an evaluator would: scores from item sums,
baseline near the first contact, a review 10-14 weeks after it, the dose from
the contacts table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.generator import ExampleData, generate_programmes
from evalkit.generator import _parameters as par
from evalkit.generator._measures import _responses
from evalkit.generator._truth import score_expectations
from evalkit.instruments import get_instrument

N = 20_000
SEED = 7
ITEMS = [f"item_{k}" for k in range(1, 21)]


@pytest.fixture(scope="module")
def data() -> ExampleData:
    return generate_programmes(N, seed=SEED, outlier_programme=True)


def _scores(measures: pd.DataFrame) -> pd.Series:
    """Reported scores of complete questionnaires (sum; SWEMWBS converted with its table)."""
    out = pd.Series(np.nan, index=measures.index)
    for code, rows in measures.groupby("instrument"):
        inst = get_instrument(code)
        total = rows[ITEMS[: inst.n_items]].sum(axis=1, min_count=inst.n_items)
        if inst.conversion_table:
            total = total.map(lambda v, t=inst.conversion_table: t.get(int(v)) if v == v else np.nan)
        out[rows.index] = total
    return out


@pytest.fixture(scope="module")
def scored(data: ExampleData) -> pd.DataFrame:
    m = data.measures.copy()
    m["score"] = _scores(m)
    first = m["participant_id"].map(data.participants.set_index("participant_id")["first_contact_date"])
    m["weeks"] = (m["completed_on"] - first).dt.days / 7.0
    return m


@pytest.fixture(scope="module")
def dose(data: ExampleData) -> pd.Series:
    c = data.contacts
    return c[c["status"] == "attended"].groupby("participant_id").size()


def _pairs(data: ExampleData, scored: pd.DataFrame, dose: pd.Series, code: str) -> pd.DataFrame:
    """Baseline (4 weeks before to 2 after the first contact) and a review 10-14 weeks after it; closed episodes."""
    m = scored[(scored["instrument"] == code) & scored["score"].notna()]
    base = m[(m["timepoint"] == "start") & m["weeks"].between(-4.01, 2.01)].groupby("participant_id").first()
    review = m[m["timepoint"].str.startswith("T") & m["weeks"].between(10, 14)].groupby("participant_id").first()
    pairs = base[["programme_id", "score"]].join(review["score"].rename("follow_up"), how="inner")
    closed = data.participants.set_index("participant_id")["ending"].notna()
    pairs = pairs[closed.reindex(pairs.index).to_numpy()]
    pairs["change"] = pairs["follow_up"] - pairs["score"]
    pairs["dose"] = dose.reindex(pairs.index).to_numpy()
    return pairs


def _ols(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and standard errors of y ~ 1 + x."""
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    sigma2 = resid @ resid / (len(y) - 2)
    return coef, np.sqrt(np.diag(sigma2 * np.linalg.inv(design.T @ design)))


def test_take_up_matches_the_true_rate(data: ExampleData) -> None:
    for programme, rows in data.participants.groupby("programme_id"):
        true = data.true_value(programme, "take_up_rate")
        se = np.sqrt(true * (1 - true) / len(rows))
        assert abs(rows["took_up"].mean() - true) < 4 * se, programme


def test_start_rate_and_mean_dose_match(data: ExampleData, dose: pd.Series) -> None:
    p = data.participants
    for programme, rows in p[p["took_up"]].groupby("programme_id"):
        true = data.true_value(programme, "start_rate")
        started = rows["first_contact_date"].notna()
        assert abs(started.mean() - true) < 4 * np.sqrt(true * (1 - true) / len(rows)) + 0.01, programme
        closed = rows[started & rows["ending"].notna()]
        d = dose.reindex(closed["participant_id"]).to_numpy()
        assert abs(d.mean() - data.true_value(programme, "mean_dose")) < 4 * d.std() / np.sqrt(d.size) + 0.1


def test_baseline_mean_and_sd_match(data: ExampleData, scored: pd.DataFrame) -> None:
    base = scored[(scored["timepoint"] == "start") & scored["weeks"].between(-4.01, 2.01) & scored["score"].notna()]
    for (programme, code), rows in base.groupby(["programme_id", "instrument"]):
        mean, sd = data.true_value(programme, "baseline_mean", code), data.true_value(programme, "baseline_sd", code)
        assert abs(rows["score"].mean() - mean) < 4 * sd / np.sqrt(len(rows)) + 0.1, (programme, code)
        assert rows["score"].std() == pytest.approx(sd, rel=0.1), (programme, code)


def test_baseline_epds_is_in_the_probable_depression_range(data: ExampleData, scored: pd.DataFrame) -> None:
    base = scored[(scored["timepoint"] == "start") & (scored["instrument"] == "epds")]["score"].dropna()
    assert 14.0 < base.mean() < 16.0 and 4.0 < base.std() < 5.0
    assert 0.55 < (base >= 13).mean() < 0.8


def test_dose_adjusted_change_recovers_mean_change_12w(data: ExampleData, scored: pd.DataFrame,
                                                       dose: pd.Series) -> None:
    checked = 0
    for code in ("epds", "phq9", "gad7", "wemwbs", "swemwbs", "qpr15"):
        pairs = _pairs(data, scored, dose, code)
        for programme, rows in pairs.groupby("programme_id"):
            if len(rows) < 150:
                continue
            centred = rows["dose"].to_numpy() - data.true_value(programme, "mean_dose")
            coef, se = _ols(rows["change"].to_numpy(), centred)
            true = data.true_value(programme, "mean_change_12w", code)
            assert abs(coef[0] - true) < 4 * se[0] + 0.3, (programme, code, coef[0], true, se[0])
            checked += 1
    assert checked >= 12


def test_dose_effect_is_recovered(data: ExampleData, scored: pd.DataFrame, dose: pd.Series) -> None:
    for code in ("epds", "wemwbs", "qpr15"):
        pairs = _pairs(data, scored, dose, code)
        means = pairs.groupby("programme_id")[["change", "dose"]].transform("mean")
        coef, se = _ols((pairs["change"] - means["change"]).to_numpy(), (pairs["dose"] - means["dose"]).to_numpy())
        true = data.true_value("P-GROUP", "change_per_session", code)
        assert abs(coef[1] - true) < 4 * se[1] + 0.02, (code, coef[1], true)


def test_complete_case_pre_post_overstates_improvement(data: ExampleData, scored: pd.DataFrame,
                                                       dose: pd.Series) -> None:
    """The documented bias: mothers still attending at 12 weeks have more sessions, so they improved more."""
    pairs = _pairs(data, scored, dose, "epds")
    bias = []
    for programme, rows in pairs.groupby("programme_id"):
        assert rows["dose"].mean() > data.true_value(programme, "mean_dose") + 1.5, programme
        bias.append(rows["change"].mean() - data.true_value(programme, "mean_change_12w", "epds"))
    assert np.mean(bias) < -0.3


def test_items_are_internally_consistent(scored: pd.DataFrame) -> None:
    base = scored[scored["timepoint"] == "start"]
    for code, rows in base.groupby("instrument"):
        x = rows[ITEMS[: get_instrument(code).n_items]].dropna().to_numpy(dtype=float)
        k = x.shape[1]
        alpha = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
        assert 0.85 < alpha < 0.95, (code, alpha)


def test_symptom_and_wellbeing_changes_correlate_with_recovery_within(data: ExampleData, scored: pd.DataFrame,
                                                                      dose: pd.Series) -> None:
    epds = _pairs(data, scored, dose, "epds")
    wemwbs = _pairs(data, scored, dose, "wemwbs")
    both = epds.join(wemwbs[["change"]].rename(columns={"change": "wellbeing_change"}), how="inner")
    r = np.corrcoef(both["change"], both["wellbeing_change"])[0, 1]
    assert -0.65 < r < -0.35
    reliable = get_instrument("wemwbs").reliable_change.value or 8.0
    within = (both["wellbeing_change"] >= reliable) & (both["follow_up"] >= 13)
    assert within.mean() > 0.03


def test_outlier_programme_falls_outside_a_99_8_percent_funnel(data: ExampleData, scored: pd.DataFrame,
                                                               dose: pd.Series) -> None:
    pairs = _pairs(data, scored, dose, "epds")
    outlier = pairs[pairs["programme_id"] == "P-OUTLIER"]
    others = pairs[pairs["programme_id"] != "P-OUTLIER"]
    assert len(outlier) >= 100
    z_mean = (outlier["change"].mean() - others["change"].mean()) / (others["change"].std() / np.sqrt(len(outlier)))
    assert z_mean > 3.09
    improved = (pairs["change"] <= -4).groupby(pairs["programme_id"]).mean()
    target = (others["change"] <= -4).mean()
    z_rate = (improved["P-OUTLIER"] - target) / np.sqrt(target * (1 - target) / len(outlier))
    assert z_rate < -3.09
    assert (improved.drop("P-OUTLIER") > target - 0.15).all()


@pytest.mark.parametrize(("programme_id", "code"), [("P-PHONE", "epds"), ("P-PHONE", "swemwbs"),
                                                      ("P-GROUP", "wemwbs")])
def test_exact_expectations_agree_with_simulating_the_model(programme_id: str, code: str) -> None:
    """The integration in _truth against a direct simulation with the generator's own item sampler."""
    programme = next(p for p in par.BASE_PROGRAMMES if p.programme_id == programme_id)
    model, inst = par.OUTCOME_MODELS[code], get_instrument(code)
    rng = np.random.default_rng(123)
    n = 200_000
    prior = rng.random(n) < par.PRIOR_SUPPORT_RATE
    d = rng.choice(par.MAX_DOSE + 1, size=n, p=programme.dose.pmf())
    z = rng.standard_normal(n)
    v = par.BASELINE_CHANGE_CORRELATION * z + np.sqrt(1 - par.BASELINE_CHANGE_CORRELATION**2) * rng.standard_normal(n)
    location = model.baseline_mean + model.worse * (programme.severity_shift * model.baseline_sd
                                                    + model.prior_support_shift * prior)
    b = location + model.baseline_sd * z
    change = (programme.effects[code] + model.change_per_session * (d - programme.dose.mean_dose())
              + model.change_sd * v)
    lo, hi = inst.n_items * inst.item_min[0], inst.n_items * inst.item_max[0]

    table = inst.conversion_table

    def score(theta: np.ndarray) -> np.ndarray:
        raw = _responses(rng, np.clip(theta, lo, hi), code).sum(axis=1)
        if not table:
            return raw
        lookup = np.array([table[k] for k in range(int(lo), int(hi) + 1)])
        return lookup[raw.astype(int) - int(lo)]

    s0 = score(b + model.occasion_sd * rng.standard_normal(n))
    s12 = score(b + change + model.occasion_sd * rng.standard_normal(n))
    truth = score_expectations(programme, code)
    assert s0.mean() == pytest.approx(truth["baseline_mean"], abs=0.05)
    assert s0.std() == pytest.approx(truth["baseline_sd"], rel=0.01)
    assert (s12 - s0).mean() == pytest.approx(truth["mean_change_12w"], abs=0.05)
