"""Exploratory context-mechanism-outcome (C-M-O) regressions: take-up on contexts, outcomes on mechanisms.

Every frame here is labelled exploratory (an ``exploratory`` column and
``attrs["exploratory"]``): these are associations in observational data, with
many possible analyses, from an unvalidated experience measure -- a way to ask
better questions, not evidence that a context or a mechanism causes anything.
Nothing is estimated below a minimum sample (``min_n``, default 50) or below
``events_per_parameter`` (default 10) events (or, for a change score,
observations) per estimated parameter; the frame then says why instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.errors import ApproximationWarning
from evalkit.instruments import Instrument
from evalkit.mechanisms._data import CONTEXT_LABELS, derive_contexts, experience_responses

if TYPE_CHECKING:
    from evalkit.episodes import EpisodeData

EXPLORATORY = ("EXPLORATORY: associations in observational data, not causes; many analyses are possible and the "
               "experience measure is unvalidated. Use them to ask better questions, not to judge a programme.")
"""The label carried by every C-M-O output (column ``exploratory`` and ``attrs['exploratory']``)."""

TAKE_UP_CONTEXTS: tuple[str, ...] = (
    "trusted_referrer", "practical_barrier", "wanted_professional_help", "interpreter", "format_mismatch",
    "first_time_mother", "prior_mh_support", "deprivation_decile",
)
"""Default contexts of the take-up model (recorded at referral)."""
OUTCOME_CONTEXTS: tuple[str, ...] = ("first_time_mother", "prior_mh_support", "deprivation_decile")
"""Default contexts added to the outcome models (kept few: every parameter needs data)."""
MECHANISM_LABELS: dict[str, str] = {
    "positive_score": "Positive mechanisms (per point, 0-4 mean)",
    "negative_score": "Negative mechanisms (per point, 0-4 mean)",
}
OUTCOMES: dict[str, str] = {
    "change": "change score (endpoint - baseline; linear regression, points)",
    "improvement": "improvement (change signed so that positive is better; linear regression, points)",
    "reliable_improvement": "reliable improvement (logistic regression, odds ratios)",
    "recovery_from": "recovered from symptoms (evalkit.recovery: below caseness on every symptom measure, with reliable "
                     "improvement; logistic regression among mothers at caseness at baseline, odds ratios)",
    "recovery_within": "recovery within (evalkit.recovery: reliably better on wellbeing or recovery while symptoms stay "
                       "at caseness; logistic regression among mothers at caseness at baseline, odds ratios)",
}
RESULT_COLUMNS: tuple[str, ...] = (
    "model", "term", "label", "estimate", "std_error", "effect", "effect_ci_low", "effect_ci_high", "effect_scale",
    "p_value", "n", "n_events", "status", "exploratory",
)


class _Unfit(Exception):
    """The model cannot be estimated; the message says why in plain words."""


def _design(frame: pd.DataFrame, terms: Sequence[str], programme: pd.Series | None, min_level_n: int,
            notes: list[str]) -> tuple[np.ndarray, list[str]]:
    """Numeric design matrix (intercept, terms, programme indicators); drops terms without enough variation."""
    cols: list[np.ndarray] = [np.ones(len(frame))]
    names = ["const"]
    for t in terms:
        v = pd.to_numeric(frame[t].astype("Float64") if str(frame[t].dtype) == "boolean" else frame[t],
                          errors="coerce").to_numpy(dtype=float)
        uniq = np.unique(v)
        if uniq.size < 2:
            notes.append(f"{t}: left out (every mother has the same value)")
            continue
        if uniq.size == 2 and min(int((v == uniq[0]).sum()), int((v == uniq[1]).sum())) < min_level_n:
            notes.append(f"{t}: left out (fewer than {min_level_n} mothers in one of its two groups)")
            continue
        cols.append(v)
        names.append(t)
    if programme is not None:
        levels = sorted(programme.astype(str).unique())
        for lev in levels[1:]:
            cols.append((programme.astype(str) == lev).to_numpy(dtype=float))
            names.append(f"programme[{lev}]")
    return np.column_stack(cols), names


def _fit(y: np.ndarray, X: np.ndarray, names: list[str], *, logistic: bool, conf: float) -> pd.DataFrame:
    """Fit, turning separation and non-convergence into :class:`_Unfit`."""
    # the two model modules, not statsmodels.api (which imports every model and dataset: ~1.6 s against ~0.5 s
    # the first time a process fits)
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.regression.linear_model import OLS

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if logistic:
                res = Logit(y, X).fit(disp=0, maxiter=200)
            else:
                res = OLS(y, X).fit()
        except np.linalg.LinAlgError as exc:
            raise _Unfit(f"the model could not be fitted ({exc}); some contexts are probably collinear") from None
    kinds = {type(w.message).__name__ for w in caught}
    if logistic and ("PerfectSeparationWarning" in kinds or "PerfectSeparationError" in kinds):
        raise _Unfit("perfect separation: a context or mechanism predicts the outcome exactly in these data, so its "
                     "odds ratio is infinite or undefined; combine categories or wait for more data")
    if logistic and not bool(res.mle_retvals.get("converged", True)):
        raise _Unfit("the logistic regression did not converge; estimates would be unreliable")
    bse = np.asarray(res.bse, dtype=float)
    if not np.all(np.isfinite(bse)) or (logistic and np.any(bse > 50)):
        raise _Unfit("some standard errors are infinite or huge (near-separation or collinearity); "
                     "estimates would be unreliable")
    params = np.asarray(res.params, dtype=float)
    if logistic:
        z = stats.norm.ppf(0.5 + conf / 2)
    else:
        z = stats.t.ppf(0.5 + conf / 2, res.df_resid)
    lo, hi = params - z * bse, params + z * bse
    out = pd.DataFrame({"term": names, "estimate": params, "std_error": bse, "p_value": np.asarray(res.pvalues)})
    if logistic:
        out["effect"], out["effect_ci_low"], out["effect_ci_high"] = np.exp(params), np.exp(lo), np.exp(hi)
        out["effect_scale"] = "odds ratio"
    else:
        out["effect"], out["effect_ci_low"], out["effect_ci_high"] = params, lo, hi
        out["effect_scale"] = "points"
    return out


def _model(frame: pd.DataFrame, y_col: str, terms: Sequence[str], *, logistic: bool, model: str, conf: float,
           programme_effects: bool, min_n: int, events_per_parameter: int, min_level_n: int) -> pd.DataFrame:
    """Complete-case fit with the minimum-data rules; a frame of results or of reasons."""
    notes: list[str] = []
    data = frame.dropna(subset=[y_col, *terms])
    n_dropped = len(frame) - len(data)
    if n_dropped:
        notes.append(f"{n_dropped} mothers left out for a missing value (complete cases only)")
    y = pd.to_numeric(data[y_col].astype("Float64") if str(data[y_col].dtype) == "boolean" else data[y_col],
                      errors="coerce").to_numpy(dtype=float)
    prog = data["programme_id"].astype("string") if programme_effects and "programme_id" in data.columns else None
    if logistic and prog is not None and len(data):
        rate = pd.Series(y, index=data.index).groupby(prog.to_numpy()).mean()
        stuck = sorted(str(k) for k, v in rate.items() if v in (0.0, 1.0))
        if stuck:
            notes.append(f"programme(s) {', '.join(stuck)} left out: everyone there had the same outcome")
            keep = ~prog.isin(stuck).to_numpy(dtype=bool)
            data, y, prog = data[keep], y[keep], prog[keep]
    if prog is not None and prog.nunique() < 2:
        prog = None
    n = len(data)
    n_events = int(min(y.sum(), n - y.sum())) if logistic else n
    status = "estimated"
    result: pd.DataFrame | None = None
    try:
        if n < min_n:
            raise _Unfit(f"not estimated: {n} mothers with complete data, fewer than the minimum of {min_n}")
        X, names = _design(data, terms, prog, min_level_n, notes)
        p = X.shape[1] - 1
        if p == 0:
            raise _Unfit("not estimated: no context or mechanism has enough variation")
        need = events_per_parameter * p
        if n_events < need:
            what = "outcome events (the rarer of yes/no)" if logistic else "mothers"
            raise _Unfit(f"not estimated: {n_events} {what} for {p} parameters; at least {events_per_parameter} per "
                         f"parameter ({need}) are needed")
        result = _fit(y, X, names, logistic=logistic, conf=conf)
    except _Unfit as exc:
        status = str(exc) if str(exc).startswith("not estimated") else f"not estimated: {exc}"
        if "separation" in status or "converge" in status or "unreliable" in status:
            warnings.warn(f"{model}: {status}", ApproximationWarning, stacklevel=3)
    if result is None:
        result = pd.DataFrame({"term": list(terms), "estimate": np.nan, "std_error": np.nan, "p_value": np.nan,
                               "effect": np.nan, "effect_ci_low": np.nan, "effect_ci_high": np.nan,
                               "effect_scale": "odds ratio" if logistic else "points"})
    else:
        result = result[~result["term"].str.startswith("programme[") & (result["term"] != "const")]
    result = result.copy()
    result["model"] = model
    result["label"] = result["term"].map({**CONTEXT_LABELS, **MECHANISM_LABELS}).fillna(result["term"])
    result["n"] = n
    result["n_events"] = n_events if logistic else pd.NA
    result["status"] = status + (" (" + "; ".join(notes) + ")" if notes else "")
    result["exploratory"] = EXPLORATORY
    out = result[list(RESULT_COLUMNS)].reset_index(drop=True)
    out["n_events"] = out["n_events"].astype("Int64")
    return out


def _finish(frame: pd.DataFrame, rules: Any, **attrs: Any) -> pd.DataFrame:
    """Label the frame exploratory and protect the counts of mothers it quotes.

    ``n`` (mothers in the model) and ``n_events`` (the rarer outcome, inside
    ``n``; the rest is a count too) are disclosure-controlled with the rules'
    threshold (:func:`evalkit.disclosure.apply_disclosure`; a ``suppressed``
    column names what is hidden), and counts of mothers quoted in ``status``
    are replaced by the marker (:func:`evalkit.disclosure.scrub_small_counts`),
    so no door (dashboard, report, export) shows a count from 1 to the
    threshold - 1. The estimates need ``min_n`` mothers, so only the rows
    that say why nothing was estimated lose anything.
    """
    from evalkit.disclosure import Partition, apply_disclosure, scrub_small_counts
    from evalkit.rules import PairingRules

    rules = PairingRules() if rules is None else rules
    threshold = int(rules.suppression_threshold)
    counts = [c for c in ("n", "n_events") if c in frame.columns]
    parts = [Partition(("n_events",), total="n", remainder=True)] if len(counts) == 2 else []
    out = apply_disclosure(frame, counts=counts, partitions=parts, rules=rules)
    for c in ("n", "n_events"):  # integer counts, hidden as missing
        if c in out.columns:
            out[c] = pd.array(out[c].to_numpy(dtype=float), dtype="Float64").round().astype("Int64")
    if "status" in out.columns and len(out):
        status = out["status"].astype("string")
        out["status"] = status.map(lambda t: scrub_small_counts(t, threshold), na_action="ignore").astype("string")
    out.attrs.update(frame.attrs)
    out.attrs.update(exploratory=EXPLORATORY, **attrs)
    return out


def cmo_take_up(
    tables: Mapping[str, pd.DataFrame],
    *,
    contexts: Sequence[str] = TAKE_UP_CONTEXTS,
    programme_effects: bool = True,
    rules: Any = None,
    level: float | None = None,
    min_n: int = 50,
    events_per_parameter: int = 10,
    min_level_n: int = 10,
) -> pd.DataFrame:
    """Exploratory: how contexts recorded at referral go with taking up the offer (logistic regression).

    Contexts only: mechanisms are experienced after take-up, so they cannot
    explain it. ``took_up ~ contexts (+ one intercept per programme)``, fitted
    to every referral with ``took_up`` and all the contexts recorded
    (complete cases).

    Parameters
    ----------
    contexts
        Names from :data:`evalkit.mechanisms.CONTEXT_LABELS` (derived by
        :func:`~evalkit.mechanisms.derive_contexts`).
    programme_effects
        One intercept per programme (default), so that contexts are compared
        within programmes.
    min_n, events_per_parameter
        Nothing is estimated with fewer than ``min_n`` referrals, or fewer than
        ``events_per_parameter`` x parameters of the rarer outcome (took up /
        did not).
    min_level_n
        A yes/no context with fewer mothers than this in either group is left
        out (said in ``status``).

    Returns
    -------
    pandas.DataFrame
        :data:`RESULT_COLUMNS`: one row per context with the log odds
        (``estimate``, ``std_error``), the odds ratio and its confidence
        interval (``effect``, ``effect_ci_low``, ``effect_ci_high``),
        ``p_value``, ``n``, ``n_events``, ``status`` and ``exploratory``.
        Separation or non-convergence gives no estimates, a ``status`` that
        says so, and an :class:`~evalkit.errors.ApproximationWarning`.
    """
    from evalkit.data_source import coerce_tables

    conf = level if level is not None else float(getattr(rules, "level", 0.95))
    unknown = [c for c in contexts if c not in CONTEXT_LABELS]
    if unknown:
        raise ValueError(f"unknown context(s) {unknown}; choose from {list(CONTEXT_LABELS)}")
    tables = coerce_tables(tables)
    p = tables.get("participants")
    if p is None or "took_up" not in p.columns:
        raise ValueError("the take-up model needs the participants table with took_up")
    frame = derive_contexts(p)
    frame["took_up"] = p["took_up"].astype("boolean")
    frame["programme_id"] = p["programme_id"].astype("string")
    out = _model(frame, "took_up", list(contexts), logistic=True, model="take-up ~ contexts", conf=conf,
                 programme_effects=programme_effects, min_n=min_n, events_per_parameter=events_per_parameter,
                 min_level_n=min_level_n)
    return _finish(out, rules, outcome="took up the offer", level=conf)


def _outcome_frame(tables: Mapping[str, pd.DataFrame], instrument: str, outcome: str, rules: Any,
                   instruments: Mapping[str, Instrument] | None, episodes: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per participant: ``y`` (the outcome), ``programme_id`` and ``baseline_score`` (paired episodes only).

    ``episodes``: the frame of :func:`~evalkit.episodes.build_episodes` of ``tables`` when the caller has it (not
    built again)."""
    try:
        from evalkit.change import episode_change
        from evalkit.episodes import build_episodes
    except ImportError as exc:  # pragma: no cover - depends on the outcomes engine being installed
        raise ValueError(f"outcome models need evalkit.episodes and evalkit.change ({exc})") from None
    ep = build_episodes(tables, rules=rules, instruments=instruments) if episodes is None else episodes
    if outcome in ("recovery_from", "recovery_within"):
        from evalkit.recovery import recovery_classification

        rc = recovery_classification(episode_change(ep, rules=rules, instruments=instruments), rules=rules)
        rc = rc[rc["in_population"].astype(bool)]
        y = rc["recovered_from_symptoms"] if outcome == "recovery_from" else rc["category"] == "recovery_within"
        return pd.DataFrame({"participant_id": rc["participant_id"].astype("string").to_numpy(),
                             "programme_id": rc["programme_id"].astype("string").to_numpy(),
                             "y": pd.array(np.asarray(y, dtype=bool), dtype="boolean"),
                             "baseline_score": np.nan})
    ep = ep[(ep["instrument"] == instrument) & ep["paired"].fillna(False).astype(bool)]
    if outcome in ("change", "improvement"):  # endpoint - baseline, as evalkit.change defines it
        y = ep["endpoint_score"].astype(float) - ep["baseline_score"].astype(float)
        if outcome == "improvement":
            y = y.where(ep["higher_is_better"].astype(bool), -y)
    else:
        y = episode_change(ep, rules=rules, instruments=instruments)["reliable_improvement"].astype("boolean")
    return pd.DataFrame({"participant_id": ep["participant_id"].astype("string").to_numpy(),
                         "programme_id": ep["programme_id"].astype("string").to_numpy(),
                         "y": y.to_numpy(), "baseline_score": ep["baseline_score"].to_numpy(dtype=float)})


def cmo_outcomes(
    tables: Mapping[str, pd.DataFrame],
    *,
    instrument: str = "epds",
    outcome: str = "change",
    experience: str | Sequence[str] | None = None,
    contexts: Sequence[str] = OUTCOME_CONTEXTS,
    adjust_baseline: bool = False,
    programme_effects: bool = True,
    rules: Any = None,
    level: float | None = None,
    min_n: int = 50,
    events_per_parameter: int = 10,
    min_level_n: int = 10,
    instruments: Mapping[str, Instrument] | None = None,
    prepared: EpisodeData | None = None,
) -> pd.DataFrame:
    """Exploratory: how the mechanism scores (and contexts) go with outcomes, one model per experience questionnaire.

    ``outcome ~ positive_score + negative_score + contexts (+ programme
    intercepts)`` among mothers with a paired ``instrument`` episode (rules
    from ``rules``) and an experience questionnaire (her latest). The two
    mechanism scores are the 0-4 means of the positive and the negative
    items; each questionnaire variant (group, one-to-one) gets its own model
    because they ask different things.

    Parameters
    ----------
    instrument
        The outcome measure (default ``epds``).
    outcome
        One of :data:`OUTCOMES`: ``change`` or ``improvement`` (linear, points
        per point of the mechanism score), ``reliable_improvement`` or
        ``recovery_from`` / ``recovery_within`` (logistic, odds ratios; one
        category per mother from :func:`evalkit.recovery.recovery_classification`,
        among mothers at caseness at baseline with a paired symptom and a
        paired wellbeing or recovery measure -- ``instrument`` is then not used).
    experience
        Experience instrument code(s) (default: every one present).
    adjust_baseline
        Add the baseline score (default False: the models then estimate the
        total association; with it, the association at equal baseline).
    rules
        :class:`~evalkit.rules.PairingRules` for pairing and reliable change.
        ``PairingRules(endpoint_rule="window")`` compares change at a fixed
        time (12 +/- 4 weeks), which makes programmes with short and long
        support comparable.
    prepared
        The episodes of ``tables`` already prepared with these ``rules`` (and
        instrument registry), e.g. :attr:`evalkit.outcomes.OutcomeResult.data`:
        they are not built again, and ``tables`` then need neither the
        contacts nor the measures of other instruments than the experience
        questionnaires (the models read nothing else of them). The result is
        the same as without.

    Returns
    -------
    pandas.DataFrame
        :data:`RESULT_COLUMNS` plus ``experience_instrument``,
        ``outcome_instrument`` and ``outcome``; ``attrs['exploratory']``.
    """
    from evalkit.data_source import coerce_tables
    from evalkit.rules import PairingRules

    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {list(OUTCOMES)}; got {outcome!r}")
    unknown = [c for c in contexts if c not in CONTEXT_LABELS]
    if unknown:
        raise ValueError(f"unknown context(s) {unknown}; choose from {list(CONTEXT_LABELS)}")
    rules = PairingRules() if rules is None else rules
    if prepared is not None and prepared.rules != rules:
        raise ValueError("prepared episodes were built with other rules than these; prepare them with these rules "
                         "or leave prepared out")
    conf = level if level is not None else float(rules.level)
    if adjust_baseline and outcome in ("recovery_from", "recovery_within"):
        raise ValueError("adjust_baseline applies to one instrument's change or reliable improvement, not to recovery")
    tables = coerce_tables(tables)
    resp = experience_responses(tables, instruments=instruments, latest=True)
    cols = [*RESULT_COLUMNS, "experience_instrument", "outcome_instrument", "outcome"]
    if resp.empty:
        return _finish(pd.DataFrame(columns=cols), rules, outcome=OUTCOMES[outcome])
    codes = sorted(resp["instrument"].unique()) if experience is None else \
        ([experience] if isinstance(experience, str) else list(experience))
    y = _outcome_frame(tables, instrument, outcome, rules, instruments,
                       None if prepared is None else prepared.episodes)
    logistic = outcome not in ("change", "improvement")
    terms = ["positive_score", "negative_score", *contexts] + (["baseline_score"] if adjust_baseline else [])
    parts = []
    for code in codes:
        r = resp[resp["instrument"] == code]
        merged = r.drop(columns=["programme_id"]).merge(y, on="participant_id", how="inner")
        name = f"{instrument} {outcome} ~ {code} mechanisms" + (" + contexts" if contexts else "")
        fit = _model(merged, "y", terms, logistic=logistic, model=name, conf=conf,
                     programme_effects=programme_effects, min_n=min_n, events_per_parameter=events_per_parameter,
                     min_level_n=min_level_n)
        fit["experience_instrument"], fit["outcome_instrument"], fit["outcome"] = code, instrument, outcome
        parts.append(fit)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    out = _finish(out[cols], rules, outcome=OUTCOMES[outcome], level=conf)
    out.attrs["rules"] = rules.describe()
    return out
