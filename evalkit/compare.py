"""Compare peer-support programmes from their aggregate summaries, with the uncertainty of every comparison.

Everything here works from :class:`evalkit.summary.Summary` objects -- the
disclosure-controlled aggregates each provider exports -- so no individual-level
row is needed: comparing four summary files gives the same numbers as comparing
the four programmes from the database (:func:`compare_from_tables` builds the
summaries internally and then calls :func:`compare_summaries`).

Measures
--------
===========================  =====================================================================
``measure``                  effect per programme (``yi``) and its sampling variance (``vi``)
===========================  =====================================================================
``smcr``                     standardised mean change, raw-score standardised (metafor ``SMCR``;
                             :func:`evalkit.stats.standardised_mean_change`): Hedges-corrected
                             ``(endpoint mean - baseline mean) / baseline SD``,
                             ``vi = 2 (1 - r) / n + yi^2 / (2 n)``
``mean_change``              raw mean change on the instrument's scale (metafor ``MC``;
                             :func:`evalkit.stats.raw_mean_change`),
                             ``vi = (sd_pre^2 + sd_post^2 - 2 r sd_pre sd_post) / n``
``recovery``                 recovery rate among paired episodes at caseness at baseline:
                             ``n_reliable_recovery / n_caseness_baseline`` (NHS Talking Therapies'
                             reliable recovery), or ``n_recovered / n_caseness_baseline`` when the
                             summaries' rules say ``recovery_from="any"``
``reliable_improvement``     ``n_reliable_improvement / n_paired``
``take_up``                  ``took_up / referred``
===========================  =====================================================================

**Direction.** Continuous effects are reported as *improvement*: the sign is
turned so that a positive value is better whatever the instrument (for EPDS,
PHQ-9 and other symptom measures, where lower is better, ``yi = -(post - pre)
/ sd``; for WEMWBS and other wellbeing measures ``yi = (post - pre) / sd``).
That makes SMCRs of different instruments comparable in sign (their size is
comparable only as far as the instruments measure the same thing), and
``instrument=("epds", "phq9")`` uses, for each programme, the first listed
instrument it has. Proportions are of good outcomes (recovery, improvement,
take-up), so higher is better there too.

**Proportions** are pooled on the logit scale by default
(``proportion_scale="logit"``: metafor ``PLO``, ``vi = 1/x + 1/(n - x)``, with
1/2 added to both cells when ``x`` is 0 or ``n``), or on the raw scale
(``"raw"``: metafor ``PR``, ``vi = p (1 - p) / n``). Pooled logits and their
intervals are back-transformed to proportions; each programme's own interval
is the Wilson interval (:func:`evalkit.stats.wilson_ci`).

Pooling, subgroups, moderators and funnels are those of :mod:`evalkit.stats`
(validated against metafor, PHEindicatormethods and funnelR); this module only
chooses the inputs and puts the results together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from evalkit.compare_options import BY_CHOICES, MEASURES, METHODS
from evalkit.stats import (
    Overdispersion,
    estimate_overdispersion,
    funnel_flags,
    funnel_limits,
    funnel_limits_continuous,
    meta_analysis,
    meta_regression,
    proportion_effect,
    raw_mean_change,
    standardised_mean_change,
    subgroup_analysis,
    wilson_ci,
)
from evalkit.summary import Summary, _plain, build_summary, read_summary

__all__ = [
    "BY_CHOICES",
    "MEASURES",
    "METHODS",
    "Comparison",
    "MixedInstrumentsError",
    "MixedRulesError",
    "compare_from_tables",
    "compare_summaries",
    "funnel_table",
]


class MixedRulesError(ValueError):
    """Summaries made under different pairing rules were compared without allowing it.

    ``str(error)`` names the library argument (``allow_mixed_rules=True``); a
    front end names its own switch with :meth:`advice`.

    Parameters
    ----------
    difference
        Which summaries differ, and in which rules.
    """

    def __init__(self, difference: str) -> None:
        self.difference = difference
        super().__init__(self.advice("pass allow_mixed_rules=True"))

    def advice(self, how: str) -> str:
        """The message with ``how`` (e.g. ``"give --allow-mixed-rules"``) as the way to compare anyway."""
        return (f"{self.difference}; their outcomes are not comparable. Rebuild them with the same rules, "
                f"or {how} to compare anyway")


class MixedInstrumentsError(ValueError):
    """Raw mean changes on different instruments were to be pooled (``measure="mean_change"``).

    ``str(error)`` names the library arguments (``measure='smcr'``); a front
    end names its own options with :meth:`advice`.

    Parameters
    ----------
    used
        The instruments the included programmes use, e.g. ``"epds, wemwbs"``.
    """

    def __init__(self, used: str) -> None:
        self.used = used
        super().__init__(self.advice("measure='{}'", "one instrument"))

    def advice(self, measure: str, one_instrument: str) -> str:
        """The message in a front end's words.

        ``measure`` is a template naming a measure (``"measure='{}'"``,
        ``"--measure {}"``), ``one_instrument`` how to choose a single
        instrument (``"one instrument"``, ``"a single --instrument"``).
        """
        return (f"{measure.format('mean_change')} needs a single instrument (raw changes on different scales "
                f"cannot be pooled); the programmes use {self.used}. Use {measure.format('smcr')} or "
                f"{one_instrument}")


Measure = Literal["smcr", "mean_change", "recovery", "reliable_improvement", "take_up"]
PROPORTION_MEASURES: tuple[str, ...] = ("recovery", "reliable_improvement", "take_up")
CONTINUOUS_MEASURES: tuple[str, ...] = ("smcr", "mean_change")

#: numerator / denominator columns of each proportion, and the table they live in
_PROPORTIONS: dict[str, tuple[str, str, str]] = {
    "recovery": ("results", "n_reliable_recovery", "n_caseness_baseline"),  # n_recovered under recovery_from="any"
    "reliable_improvement": ("results", "n_reliable_improvement", "n_paired"),
    "take_up": ("programmes", "took_up", "referred"),
}

MIN_PER_LEVEL = 3
"""Fewest programmes per level of a moderator before its test is reported."""

FUNNEL_LEVELS: tuple[float, float] = (0.95, 0.998)

_PROGRAMME_INFO = ("programme_id", "name", "provider", *BY_CHOICES)

#: PairingRules fields that do not change any figure a comparison uses
_RULES_NOT_COMPARED = frozenset({
    "suppression_threshold", "show_zero", "rounding_base", "seed", "mi_imputations", "mm_knot_weeks",
    "mm_horizon_weeks", "mm_max_weeks", "mm_session_effects", "mm_session_max_obs", "dose_thresholds",
    "min_alpha_n", "level",
})


# ---------------------------------------------------------------------------
# result object


@dataclass(frozen=True, eq=False)
class Comparison:
    """The result of :func:`compare_summaries`.

    Attributes
    ----------
    per_programme : pandas.DataFrame
        One row per programme: ``programme_id``, ``name``, ``provider``,
        ``format``, ``mode``, ``delivered_by``, ``facilitation``, ``region``,
        ``instrument`` (missing for take-up), ``n`` (denominator: paired
        episodes, people at caseness at baseline, or referrals), ``events``
        (numerator of a proportion; missing for continuous measures), ``yi``
        and ``vi`` (effect and sampling variance on the analysis scale),
        ``se``, ``estimate``, ``ci_low``, ``ci_high`` (reporting scale:
        improvement, or proportion), ``weight`` (percent in the pooled model),
        ``included`` (bool) and ``reason`` (why a programme was left out).
    pooled : pandas.DataFrame
        One row: ``measure``, ``instrument``, ``scale``, ``method``, ``knha``,
        ``k``, ``estimate``, ``ci_low``, ``ci_high``, ``pi_low``, ``pi_high``
        (reporting scale), ``yi``, ``se`` (analysis scale), ``zval``,
        ``pval``, ``tau2``, ``tau2_se``, ``i2``, ``h2``, ``q``, ``q_df``,
        ``q_pvalue``, ``message``.
    subgroups : pandas.DataFrame
        One row per level of each ``by`` characteristic: ``by``, ``level``,
        ``k``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``tau2``, ``i2``
        (separate model per level; reporting scale), ``note``.
    moderator_test : pandas.DataFrame
        One row per ``by`` characteristic (and one for all of them together
        when there are several): ``moderators``, ``k``, ``p`` (coefficients
        incl. intercept), ``test`` (``"QM"`` chi-square or ``"F"`` under
        Knapp-Hartung), ``statistic``, ``df1``, ``df2``, ``pvalue``,
        ``tau2_residual``, ``r2``, ``tested`` (bool) and ``message`` (why a
        test was not run).
    funnel : pandas.DataFrame
        One row per included programme: ``programme_id``, ``n``,
        ``precision`` (the funnel's x axis: ``n`` for proportions, ``1/vi``
        for continuous measures), ``value``, ``target``, ``z``,
        ``lower_0.95``, ``upper_0.95``, ``lower_0.998``, ``upper_0.998``,
        ``flag`` (``within``, ``above_0.95``, ``below_0.998``, ...).
    measure, instrument, method, knha, by, proportion_scale, overdispersion
        The arguments used (``instrument`` as a tuple).
    direction : str
        How to read the sign of the estimates.
    rules_text : str
        Plain-English pairing rules of the summaries.
    notes : tuple of str
        Messages about the comparison (exclusions, small k, overdispersion).
    """

    per_programme: pd.DataFrame
    pooled: pd.DataFrame
    subgroups: pd.DataFrame
    moderator_test: pd.DataFrame
    funnel: pd.DataFrame
    measure: str
    instrument: tuple[str, ...]
    method: str
    knha: bool
    by: tuple[str, ...]
    proportion_scale: str
    overdispersion: str | None
    direction: str
    rules_text: str
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the settings, and each frame as a list of records (missing -> None)."""
        return {
            "measure": self.measure,
            "instrument": list(self.instrument),
            "method": self.method,
            "knha": self.knha,
            "by": list(self.by),
            "proportion_scale": self.proportion_scale,
            "overdispersion": self.overdispersion,
            "direction": self.direction,
            "rules_text": self.rules_text,
            "notes": list(self.notes),
            "per_programme": _records(self.per_programme),
            "pooled": _records(self.pooled),
            "subgroups": _records(self.subgroups),
            "moderator_test": _records(self.moderator_test),
            "funnel": _records(self.funnel),
        }

    def to_text(self, digits: int = 3) -> str:
        """A forest-style plain-text report (what ``evalkit compare`` prints)."""
        return _render_text(self, digits)

    def __str__(self) -> str:
        return self.to_text()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cols = list(frame.columns)
    return [{c: _plain(v) for c, v in zip(cols, row, strict=True)} for row in frame.itertuples(index=False, name=None)]


# ---------------------------------------------------------------------------
# argument checks and inputs


def _check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")
    return value


def _as_tuple(name: str, value: str | Sequence[str] | None, allowed: Sequence[str] | None = None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else tuple(value)
    for v in items:
        if not isinstance(v, str) or not v:
            raise ValueError(f"{name} must be a name or a list of names; got {value!r}")
        if allowed is not None and v not in allowed:
            raise ValueError(f"{name} must be among {', '.join(repr(a) for a in allowed)}; got {v!r}")
    if len(set(items)) != len(items):
        raise ValueError(f"{name} lists a name twice: {list(items)}")
    return items


def _load(summaries: Any) -> list[Summary]:
    if isinstance(summaries, (Summary, str, Path)):
        summaries = [summaries]
    out = []
    for s in summaries:
        if isinstance(s, Summary):
            out.append(s)
        elif isinstance(s, (str, Path)):
            out.append(read_summary(s))
        else:
            raise ValueError(f"summaries must be Summary objects or paths of summary files; got {type(s).__name__}")
    if not out:
        raise ValueError("summaries must contain at least one summary; got none")
    return out


def _combine(summaries: list[Any], allow_mixed_rules: bool) -> tuple[pd.DataFrame, pd.DataFrame, str, list[str]]:
    """Stack the summaries' frames; refuse duplicated programmes and (by default) different rules."""
    notes: list[str] = []
    seen: dict[str, str] = {}
    for s in summaries:
        for pid in s.programmes["programme_id"].tolist():
            where = s.source or "a summary"
            if pid in seen:
                raise ValueError(f"programme {pid!r} appears in more than one summary ({seen[pid]} and {where}); "
                                 "give each programme once")
            seen[pid] = where
    first = summaries[0]
    ref = {k: v for k, v in first.rules.items() if k not in _RULES_NOT_COMPARED}
    for s in summaries[1:]:
        other = {k: v for k, v in s.rules.items() if k not in _RULES_NOT_COMPARED}
        diff = sorted(k for k in set(ref) | set(other) if ref.get(k) != other.get(k))
        if diff:
            detail = "; ".join(f"{k}: {ref.get(k)!r} vs {other.get(k)!r}" for k in diff)
            msg = (f"the summaries were made under different pairing rules ({first.source or 'first summary'} vs "
                   f"{s.source or 'another summary'}: {detail})")
            if not allow_mixed_rules:
                raise MixedRulesError(msg)
            notes.append("Warning: " + msg + ".")
    programmes = pd.concat([s.programmes for s in summaries], ignore_index=True)
    results = pd.concat([s.results for s in summaries], ignore_index=True)
    return programmes, results, first.rules_text, notes


def _present(x: Any) -> bool:
    return x is not None and x is not pd.NA and not (isinstance(x, float) and math.isnan(x))


def _effects(programmes: pd.DataFrame, results: pd.DataFrame, measure: str, instruments: tuple[str, ...],
             scale: str, level: float, recovery_from: str) -> pd.DataFrame:
    """One row per programme with yi, vi and the reporting-scale estimate and CI (or the reason it is left out)."""
    info = programmes.reindex(columns=list(_PROGRAMME_INFO)).copy()
    rows: list[dict[str, Any]] = []
    z = float(stats.norm.ppf(1 - (1 - level) / 2))
    res_by = {(r["programme_id"], r["instrument"]): r for r in results.to_dict("records")}
    prog_by = {r["programme_id"]: r for r in programmes.to_dict("records")}
    for pid in info["programme_id"].tolist():
        row: dict[str, Any] = {"programme_id": pid, "instrument": None, "n": np.nan, "events": np.nan,
                               "yi": np.nan, "vi": np.nan, "estimate": np.nan, "ci_low": np.nan,
                               "ci_high": np.nan, "included": False, "reason": ""}
        rows.append(row)
        if measure == "take_up":
            src: Mapping[str, Any] | None = prog_by[pid]
        else:
            src = None
            for inst in instruments:
                if (pid, inst) in res_by:
                    src, row["instrument"] = res_by[(pid, inst)], inst
                    break
            if src is None:
                row["reason"] = f"no results for instrument {' or '.join(instruments)}"
                continue
        hidden = set(filter(None, str(src.get("suppressed") or "").split("; ")))
        if measure in PROPORTION_MEASURES:
            _, num, den = _PROPORTIONS[measure]
            if measure == "recovery" and recovery_from == "any":
                num = "n_recovered"
            x, n = src.get(num), src.get(den)
            if not (_present(x) and _present(n)):
                missing = [c for c, v in ((num, x), (den, n)) if not _present(v)]
                why = "suppressed" if any(c in hidden for c in missing) else "not available"
                row["reason"] = f"{' and '.join(missing)} {why}"
                continue
            x, n = float(x), float(n)
            row["n"], row["events"] = n, x
            if n <= 0:
                row["reason"] = f"{den} is 0"
                continue
            yi, vi = proportion_effect(x, n, measure="PLO" if scale == "logit" else "PR")
            lo, hi = wilson_ci(x, n, level=level)
            row.update(yi=yi, vi=vi, estimate=x / n, ci_low=lo, ci_high=hi)
        else:
            need = ["n_paired", "baseline_mean", "endpoint_mean", "baseline_sd", "r_pre_post"]
            if measure == "mean_change":
                need.append("endpoint_sd")
            missing = [c for c in need if not _present(src.get(c))]
            if missing:
                why = "suppressed" if any(c in hidden for c in missing) else "not available"
                row["reason"] = f"{', '.join(missing)} {why}"
                continue
            n = float(src["n_paired"])
            row["n"] = n
            sign = 1.0 if bool(src["higher_is_better"]) else -1.0
            m0, m1, s0, r = (float(src[c]) for c in ("baseline_mean", "endpoint_mean", "baseline_sd", "r_pre_post"))
            if measure == "smcr":
                if n < 3:
                    row["reason"] = "fewer than 3 paired episodes (the SMCR needs n >= 3)"
                    continue
                if not s0 > 0:
                    row["reason"] = "baseline SD is 0"
                    continue
                with np.errstate(over="ignore", invalid="ignore"):  # a finite but tiny SD: reason below
                    yi, vi = standardised_mean_change(m0, m1, s0, n, r)
            else:
                with np.errstate(over="ignore", invalid="ignore"):
                    yi, vi = raw_mean_change(m0, m1, s0, float(src["endpoint_sd"]), n, r)
            if not (math.isfinite(yi) and math.isfinite(vi)):
                row["reason"] = (f"the effect overflows (baseline SD {s0:g} against a change of {m1 - m0:g} "
                                 "points): check the summary's means and SDs")
                continue
            yi = sign * yi
            row.update(yi=yi, vi=vi)
            if vi > 0:
                row.update(estimate=yi, ci_low=yi - z * math.sqrt(vi), ci_high=yi + z * math.sqrt(vi))
        if not (row["vi"] > 0):
            row["reason"] = "sampling variance is 0 (no spread of outcomes)"
            continue
        row["included"] = True
    eff = pd.DataFrame(rows)
    out = info.merge(eff, on="programme_id", how="left")
    out["se"] = np.sqrt(out["vi"].where(out["vi"] > 0))
    out["instrument"] = out["instrument"].astype("string")
    out["reason"] = out["reason"].astype("string")
    return out


def _to_reporting(x: Any, measure: str, scale: str) -> Any:
    if measure in PROPORTION_MEASURES and scale == "logit":
        return special.expit(x)
    return x


# ---------------------------------------------------------------------------
# subgroups and moderators


def _moderator_row(name: str, k: int, message: str, p: int = 0) -> dict[str, Any]:
    return {"moderators": name, "k": k, "p": p, "test": None, "statistic": np.nan, "df1": np.nan, "df2": np.nan,
            "pvalue": np.nan, "tau2_residual": np.nan, "r2": np.nan, "tested": False, "message": message}


def _level_problem(values: pd.Series, name: str, min_per_level: int) -> str:
    counts = values.value_counts()
    if len(counts) < 2:
        only = counts.index[0] if len(counts) else "none"
        return f"all included programmes share {name} {only!r}: nothing to compare"
    small = counts[counts < min_per_level]
    if len(small):
        parts = ", ".join(f"{lv!r} has {c}" for lv, c in small.items())
        return (f"too few programmes per level of {name} ({parts}; at least {min_per_level} per level are needed "
                "for a test of moderators)")
    return ""


def _subgroups_and_moderators(inc: pd.DataFrame, by: tuple[str, ...], measure: str, scale: str, method: str,
                              knha: bool, level: float, min_per_level: int
                              ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    sub_rows: list[dict[str, Any]] = []
    mod_rows: list[dict[str, Any]] = []
    notes: list[str] = []
    k = len(inc)
    yi, vi = inc["yi"].to_numpy(float), inc["vi"].to_numpy(float)
    problems: dict[str, str] = {}
    for name in by:
        values = inc[name].astype("string")
        if values.isna().any():
            missing = inc.loc[values.isna(), "programme_id"].tolist()
            problems[name] = f"{name} is not recorded for {', '.join(missing)}"
            mod_rows.append(_moderator_row(name, k, problems[name]))
            continue
        levels = sorted(values.unique().tolist())
        p = len(levels)
        if p < 2:
            problems[name] = _level_problem(values, name, min_per_level)
            mod_rows.append(_moderator_row(name, k, problems[name], p))
            continue
        # per-level pooled estimates (descriptive; shown whenever the model can be fitted)
        if k > p or method == "FE":
            sg = subgroup_analysis(yi, vi, values.to_numpy(dtype=object), method=method, level=level)
            counts = values.value_counts()
            for rec in sg.table.to_dict("records"):
                small = counts[rec["group"]] < min_per_level
                sub_rows.append({
                    "by": name, "level": rec["group"], "k": int(rec["k"]),
                    "estimate": _to_reporting(rec["estimate"], measure, scale), "se": rec["se"],
                    "ci_low": _to_reporting(rec["ci_low"], measure, scale),
                    "ci_high": _to_reporting(rec["ci_high"], measure, scale),
                    "tau2": rec["tau2"], "i2": rec["i2"],
                    "note": f"fewer than {min_per_level} programmes" if small else ""})
        else:
            notes.append(f"Subgroups by {name}: {p} levels but only {k} programmes; no model can be fitted.")
        problem = _level_problem(values, name, min_per_level)
        if not problem and k <= p:
            problem = f"{p} coefficients for {k} programmes: more parameters than programmes"
        if problem:
            problems[name] = problem
            mod_rows.append(_moderator_row(name, k, problem, p))
            continue
        mod_rows.append(_fit_moderators(yi, vi, inc[[name]].astype("string").astype(object), name, method, knha))
    if len(by) > 1:
        label = " + ".join(by)
        if problems:
            msg = "not tested: " + "; ".join(problems.values())
            mod_rows.append(_moderator_row(label, k, msg))
        else:
            mods = inc[list(by)].astype("string").astype(object)
            p = 1 + sum(inc[b].nunique() - 1 for b in by)
            if k <= p:
                mod_rows.append(_moderator_row(label, k, f"{p} coefficients for {k} programmes: more parameters "
                                                         "than programmes", p))
            else:
                mod_rows.append(_fit_moderators(yi, vi, mods, label, method, knha))
    sub_cols = ["by", "level", "k", "estimate", "se", "ci_low", "ci_high", "tau2", "i2", "note"]
    mod_cols = list(_moderator_row("", 0, "").keys())
    subgroups = pd.DataFrame(sub_rows, columns=sub_cols)
    moderator_test = pd.DataFrame(mod_rows, columns=mod_cols)
    for c in ("k", "p"):
        moderator_test[c] = moderator_test[c].astype("int64")
    subgroups["k"] = subgroups["k"].astype("int64")
    return subgroups, moderator_test, notes


def _fit_moderators(yi: np.ndarray, vi: np.ndarray, mods: pd.DataFrame, label: str, method: str,
                    knha: bool) -> dict[str, Any]:
    try:
        reg = meta_regression(yi, vi, mods.reset_index(drop=True), method=method, knha=knha)
    except ValueError as exc:  # collinear characteristics, too few programmes
        p = 1 + sum(mods[c].nunique() - 1 for c in mods.columns)
        return _moderator_row(label, len(yi), f"not tested: {exc}", p)
    return {"moderators": label, "k": reg.k, "p": reg.p, "test": "F" if knha else "QM", "statistic": reg.qm,
            "df1": float(reg.qm_df), "df2": float(reg.qm_df2) if knha else np.nan, "pvalue": reg.qm_pvalue,
            "tau2_residual": reg.tau2, "r2": reg.r2, "tested": True, "message": ""}


# ---------------------------------------------------------------------------
# funnel


def _continuous_overdispersion(yi: np.ndarray, vi: np.ndarray, target: float, model: str,
                               winsorize: float = 0.1) -> Overdispersion:
    """Over-dispersion of continuous effects around ``target`` (Spiegelhalter 2005, section 6).

    The computation of :func:`evalkit.stats.estimate_overdispersion`, which takes proportions, applied to
    the z-scores ``z = (y - target) / sqrt(v)`` of continuous effects: z-scores beyond the ``winsorize`` and
    ``1 - winsorize`` quantiles (R type 7) are set to those quantiles, ``phi = mean(z^2)``, and the
    additive ``tau2 = max(0, (k phi - (k - 1)) / (sum(w) - sum(w^2) / sum(w)))`` with ``w = 1 / v``.
    Winsorising keeps a single outlying programme from widening the limits that should flag it.
    """
    k = len(yi)
    z = (yi - target) / np.sqrt(vi)
    if winsorize > 0 and k > 1:
        lo, hi = np.quantile(z, [winsorize, 1.0 - winsorize])
        z = np.clip(z, lo, hi)
    phi = float(np.mean(z**2))
    w = 1.0 / vi
    tau2 = max(0.0, (k * phi - (k - 1)) / (float(w.sum()) - float((w**2).sum()) / float(w.sum())))
    statistic = k * phi
    return Overdispersion(phi=phi, tau2=tau2, model=model, k=k, statistic=statistic,
                          p_value=float(stats.chi2.sf(statistic, max(k - 1, 1))), winsorize=winsorize)


def _funnel(inc: pd.DataFrame, measure: str, overdispersion: str | None, funnel_method: str
            ) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    lo_hi = [f"{side}_{lv:g}" for lv in FUNNEL_LEVELS for side in ("lower", "upper")]
    cols = ["programme_id", "n", "precision", "value", "target", "z", *lo_hi, "flag"]
    if len(inc) < 2:
        return pd.DataFrame(columns=cols), ["Funnel plot needs at least 2 programmes."]
    if measure in PROPORTION_MEASURES:
        x = inc["events"].to_numpy(float)
        n = inc["n"].to_numpy(float)
        target = float(x.sum() / n.sum())
        if not 0 < target < 1:
            return pd.DataFrame(columns=cols), [f"Funnel plot: the pooled proportion is {target:g}; no limits."]
        od: Overdispersion | None = None
        if overdispersion is not None:
            od = estimate_overdispersion(x, n, target, model=overdispersion)
            notes.append(_od_note(od))
            if od.model == "multiplicative" and od.phi <= 1:
                od = None
        method = "normal" if od is not None else funnel_method
        flags = funnel_flags(x, n, target=target, levels=FUNNEL_LEVELS, method=method, overdispersion=od)
        limits = funnel_limits(target, n, levels=FUNNEL_LEVELS, method=method, overdispersion=od)
        out = pd.DataFrame({"programme_id": inc["programme_id"].to_numpy(), "n": n, "precision": n,
                            "value": flags["proportion"].to_numpy(), "target": target,
                            "z": flags["z"].to_numpy()})
        for c in lo_hi:
            out[c] = limits[c].to_numpy()
        out["flag"] = flags["flag"].to_numpy()
        return out[cols], notes
    yi, vi = inc["yi"].to_numpy(float), inc["vi"].to_numpy(float)
    target = meta_analysis(yi, vi, method="FE").estimate
    odc: Overdispersion | None = None
    if overdispersion is not None:
        odc = _continuous_overdispersion(yi, vi, target, overdispersion)
        notes.append(_od_note(odc))
        if odc.model == "multiplicative" and odc.phi <= 1:
            odc = None
    precision = 1.0 / vi
    # sd = 1 with n = 1/vi gives limits target +/- z sqrt(vi): each programme's own standard error
    limits = funnel_limits_continuous(target, 1.0, precision, levels=FUNNEL_LEVELS, overdispersion=odc)
    phi, tau2 = (1.0, 0.0) if odc is None else ((odc.phi, 0.0) if odc.model == "multiplicative" else (1.0, odc.tau2))
    out = pd.DataFrame({"programme_id": inc["programme_id"].to_numpy(), "n": inc["n"].to_numpy(float),
                        "precision": precision, "value": yi, "target": target,
                        "z": (yi - target) / np.sqrt(phi * vi + tau2)})
    for c in lo_hi:
        out[c] = limits[c].to_numpy()
    flag = np.full(len(out), "within", dtype=object)
    for lv in sorted(FUNNEL_LEVELS):  # widest level last so that it wins, as funnel_flags
        flag = np.where(yi > out[f"upper_{lv:g}"].to_numpy(), f"above_{lv:g}", flag)
        flag = np.where(yi < out[f"lower_{lv:g}"].to_numpy(), f"below_{lv:g}", flag)
    out["flag"] = flag
    return out[cols], notes


def _od_note(od: Overdispersion) -> str:
    applied = od.model == "additive" or od.phi > 1
    what = f"phi = {od.phi:.3g}" if od.model == "multiplicative" else f"tau2 = {od.tau2:.3g}"
    return (f"Funnel over-dispersion ({od.model}): {what}, chi-square {od.statistic:.3g} on {od.k - 1} df, "
            f"p = {od.p_value:.3g}; " + ("limits widened." if applied else "phi <= 1, limits not widened."))


# ---------------------------------------------------------------------------
# the public functions


def compare_summaries(
    summaries: Any,
    *,
    instrument: str | Sequence[str] = "epds",
    measure: Measure = "smcr",
    method: str = "REML",
    by: str | Sequence[str] | None = None,
    knha: bool = False,
    proportion_scale: Literal["logit", "raw"] = "logit",
    overdispersion: Literal["multiplicative", "additive"] | None = None,
    funnel_method: Literal["normal", "exact"] = "normal",
    level: float = 0.95,
    min_per_level: int = MIN_PER_LEVEL,
    allow_mixed_rules: bool = False,
) -> Comparison:
    """Pool programmes' effects from their summaries, by subgroup, with moderator tests and funnel flags.

    Parameters
    ----------
    summaries
        :class:`~evalkit.summary.Summary` objects or paths of summary files
        (read with :func:`~evalkit.summary.read_summary`); a programme may
        appear in only one of them.
    instrument
        Instrument code, or several in order of preference: each programme
        uses the first it has results for (not used for ``take_up``).
    measure
        One of :data:`MEASURES` (see the module notes).
    method
        tau^2 estimator: ``"REML"`` (default), ``"DL"``, ``"FE"`` (fixed
        effect), or ``"ML"``, ``"PM"``, ``"HE"``, ``"SJ"``.
    by
        Programme characteristic(s) from :data:`BY_CHOICES` for subgroup
        estimates and the test of moderators.
    knha
        Knapp-Hartung adjustment (t and F tests) for the pooled estimate and
        the moderator tests.
    proportion_scale
        ``"logit"`` (default) or ``"raw"`` for proportions.
    overdispersion
        ``None`` (default): funnel limits from sampling error alone;
        ``"multiplicative"`` or ``"additive"``: widen them for over-dispersion
        (Spiegelhalter 2005).
    funnel_method
        ``"normal"`` (default) or ``"exact"`` binomial limits for
        proportions without over-dispersion.
    level
        Confidence level of every interval (the funnel uses 95% and 99.8%).
    min_per_level
        Fewest programmes per level of a characteristic for its moderator
        test to be reported (default 3).
    allow_mixed_rules
        Compare summaries made under different pairing rules (a note says
        so); by default that is an error.

    Returns
    -------
    Comparison
        Frozen dataclass with ``per_programme``, ``pooled``, ``subgroups``,
        ``moderator_test`` and ``funnel`` frames; ``.to_dict()``,
        ``.to_text()``.

    Raises
    ------
    ValueError
        For invalid arguments, duplicated programmes, different rules, or
        when no programme has the data the measure needs.

    Notes
    -----
    Programmes whose figures were suppressed (or are missing) are listed in
    ``per_programme`` with ``included=False`` and the reason, and left out of
    every model. With one included programme the pooled row carries that
    programme's estimate for ``method="FE"`` and a message otherwise.

    The pooled model is :func:`evalkit.stats.meta_analysis`; subgroups are
    :func:`evalkit.stats.subgroup_analysis` (a separate model per level);
    moderator tests are the omnibus test of :func:`evalkit.stats.meta_regression`
    with the characteristic(s) as categorical moderators and the same tau^2
    estimator, reported only when every level has at least ``min_per_level``
    programmes and there are more programmes than coefficients. Funnel targets
    are the pooled proportion ``sum(events) / sum(n)`` (proportions;
    :func:`evalkit.stats.funnel_flags` / :func:`~evalkit.stats.funnel_limits`)
    or the fixed-effect (inverse-variance) mean (continuous measures; limits
    ``target +/- z sqrt(vi)`` from :func:`~evalkit.stats.funnel_limits_continuous`
    at precision ``1/vi``).

    Examples
    --------
    >>> from evalkit.data_source import example_tables
    >>> comp = compare_from_tables(example_tables(), instrument="epds", measure="smcr")
    >>> comp.pooled[["k", "method"]].to_dict("records")
    [{'k': 4, 'method': 'REML'}]
    """
    measure = _check_choice("measure", measure, MEASURES)
    method = _check_choice("method", method, METHODS)
    proportion_scale = _check_choice("proportion_scale", proportion_scale, ("logit", "raw"))
    funnel_method = _check_choice("funnel_method", funnel_method, ("normal", "exact"))
    if overdispersion is not None:
        overdispersion = _check_choice("overdispersion", overdispersion, ("multiplicative", "additive"))
    if not isinstance(knha, (bool, np.bool_)):
        raise ValueError(f"knha must be True or False; got {knha!r}")
    if not (isinstance(level, (int, float)) and 0 < float(level) < 1):
        raise ValueError(f"level must be a number strictly between 0 and 1 (e.g. 0.95); got {level!r}")
    if isinstance(min_per_level, bool) or not isinstance(min_per_level, int) or min_per_level < 1:
        raise ValueError(f"min_per_level must be a whole number >= 1; got {min_per_level!r}")
    instruments = _as_tuple("instrument", instrument)
    if not instruments and measure != "take_up":
        raise ValueError(f"instrument must name at least one instrument for measure={measure!r}")
    by_t = _as_tuple("by", by, BY_CHOICES)
    loaded = _load(summaries)
    programmes, results, rules_text, notes = _combine(loaded, allow_mixed_rules)

    recovery_from = str(loaded[0].rules.get("recovery_from", "reliable"))
    per = _effects(programmes, results, measure, instruments, proportion_scale, float(level), recovery_from)
    inc = per[per["included"]].reset_index(drop=True)
    if inc.empty:
        reasons = "; ".join(f"{r.programme_id}: {r.reason}" for r in per.itertuples())
        what = "take-up" if measure == "take_up" else f"{measure} on {' or '.join(instruments)}"
        raise ValueError(f"no programme has the figures needed for {what} ({reasons})")
    if measure == "mean_change" and inc["instrument"].nunique() > 1:
        used = ", ".join(sorted(inc["instrument"].unique()))
        raise MixedInstrumentsError(used)
    for r in per[~per["included"]].itertuples():
        notes.append(f"{r.programme_id} left out: {r.reason}.")
    if measure != "take_up" and inc["instrument"].nunique() > 1:
        notes.append("Programmes use different instruments: " + ", ".join(
            f"{r.programme_id} {r.instrument}" for r in inc.itertuples()) + ".")

    k = len(inc)
    yi, vi = inc["yi"].to_numpy(float), inc["vi"].to_numpy(float)
    scale = ("logit" if proportion_scale == "logit" else "proportion") if measure in PROPORTION_MEASURES else measure
    inst_label = "" if measure == "take_up" else "/".join(sorted(inc["instrument"].unique()))
    pooled_row: dict[str, Any] = {"measure": measure, "instrument": inst_label, "scale": scale, "method": method,
                                  "knha": bool(knha), "k": k}
    nan_cols = ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "yi", "se", "zval", "pval", "tau2", "tau2_se",
                "i2", "h2", "q", "q_df", "q_pvalue")
    weights = np.full(k, np.nan)
    if k < 2 and (method != "FE" or knha):
        pooled_row.update({c: np.nan for c in nan_cols})
        pooled_row["message"] = (f"only {k} programme has the figures needed; a random-effects model needs at "
                                 "least 2")
        notes.append(pooled_row["message"] + ".")
    else:
        ma = meta_analysis(yi, vi, method=method, knha=bool(knha), level=float(level))
        weights = ma.weights
        pooled_row.update({
            "estimate": _to_reporting(ma.estimate, measure, proportion_scale),
            "ci_low": _to_reporting(ma.ci_low, measure, proportion_scale),
            "ci_high": _to_reporting(ma.ci_high, measure, proportion_scale),
            "pi_low": _to_reporting(ma.pi_low, measure, proportion_scale),
            "pi_high": _to_reporting(ma.pi_high, measure, proportion_scale),
            "yi": ma.estimate, "se": ma.se, "zval": ma.zval, "pval": ma.pval, "tau2": ma.tau2,
            "tau2_se": ma.tau2_se, "i2": ma.i2, "h2": ma.h2, "q": ma.q, "q_df": float(ma.q_df),
            "q_pvalue": ma.q_pvalue, "message": "" if k >= 3 else f"only {k} programmes: heterogeneity is "
                                                                   "estimated very imprecisely"})
    pooled = pd.DataFrame([pooled_row])
    per["weight"] = np.nan
    per.loc[per["included"], "weight"] = weights

    subgroups, moderator_test, sub_notes = _subgroups_and_moderators(
        inc, by_t, measure, proportion_scale, method, bool(knha), float(level), min_per_level)
    notes += sub_notes
    notes += [f"Moderator {r.moderators}: {r.message}." for r in moderator_test.itertuples() if not r.tested]
    funnel, funnel_notes = _funnel(inc, measure, overdispersion, funnel_method)
    notes += funnel_notes

    per_cols = [*_PROGRAMME_INFO, "instrument", "n", "events", "yi", "vi", "se", "estimate", "ci_low", "ci_high",
                "weight", "included", "reason"]
    if measure in PROPORTION_MEASURES:
        direction = (f"Proportions of {_PROPORTION_WORDS[measure]}; higher is better. Pooled on the "
                     f"{'logit' if proportion_scale == 'logit' else 'raw proportion'} scale.")
    else:
        what = "standardised mean change (SMCR)" if measure == "smcr" else "mean change in points"
        direction = (f"Estimates are {what} signed so that a positive value is an improvement (a fall in "
                     "symptom scores, a rise in wellbeing or recovery scores).")
    return Comparison(
        per_programme=per[per_cols].reset_index(drop=True),
        pooled=pooled,
        subgroups=subgroups,
        moderator_test=moderator_test,
        funnel=funnel,
        measure=measure,
        instrument=instruments if measure != "take_up" else (),
        method=method,
        knha=bool(knha),
        by=by_t,
        proportion_scale=proportion_scale,
        overdispersion=overdispersion,
        direction=direction,
        rules_text=rules_text,
        notes=tuple(notes),
    )


_PROPORTION_WORDS = {
    "recovery": "paired episodes at caseness at baseline that recovered (as the rules define it)",
    "reliable_improvement": "paired episodes with reliable improvement",
    "take_up": "referrals that took up support",
}


def compare_from_tables(
    tables: Mapping[str, pd.DataFrame],
    *,
    rules: Any = None,
    programmes: Sequence[str] | None = None,
    instruments: Any = None,
    **options: Any,
) -> Comparison:
    """Build the summaries from canonical tables, then :func:`compare_summaries`.

    Parameters
    ----------
    tables
        Canonical tables (see :func:`evalkit.data_source.load_tables`).
    rules
        :class:`~evalkit.rules.PairingRules` (default ``PairingRules()``).
    programmes
        Only these programme ids (default: all in ``tables["programmes"]``).
    instruments
        Instrument registry passed to :func:`~evalkit.summary.build_summary`.
    **options
        Keyword arguments of :func:`compare_summaries` (``instrument``,
        ``measure``, ``method``, ``by``, ``knha``, ...).

    Returns
    -------
    Comparison
        Exactly what comparing separately exported summaries of the same
        programmes gives: every programme is summarised from its own rows only,
        with the same disclosure control.
    """
    summary = build_summary(tables, rules=rules, programme=programmes, instruments=instruments)
    return compare_summaries([summary], **options)


def funnel_table(summaries: Any, *, instrument: str | Sequence[str] = "epds",
                 overdispersion: Literal["multiplicative", "additive"] | None = None,
                 funnel_method: Literal["normal", "exact"] = "normal",
                 allow_mixed_rules: bool = False) -> pd.DataFrame:
    """Funnel-plot flags of every programme on recovery, reliable improvement, take-up and SMCR.

    Parameters
    ----------
    summaries, instrument, overdispersion, funnel_method, allow_mixed_rules
        As :func:`compare_summaries` (each indicator is compared with ``method="FE"``).

    Returns
    -------
    pandas.DataFrame
        The ``funnel`` frames of :func:`compare_summaries` for each of the four
        indicators, stacked, with an ``indicator`` column first. Indicators no
        programme can be placed on are left out.
    """
    frames = []
    for measure in ("recovery", "reliable_improvement", "take_up", "smcr"):
        try:
            comp = compare_summaries(summaries, instrument=instrument, measure=measure, method="FE",
                                     overdispersion=overdispersion, funnel_method=funnel_method,
                                     allow_mixed_rules=allow_mixed_rules)
        except ValueError as exc:
            if "no programme has the figures" in str(exc):
                continue
            raise
        frames.append(comp.funnel.assign(indicator=measure))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    return out[["indicator", *[c for c in out.columns if c != "indicator"]]]


# ---------------------------------------------------------------------------
# text rendering


def _fmt(x: Any, digits: int) -> str:
    if not _present(x):
        return "NA"
    return f"{float(x):.{digits}f}"


def _render_text(c: Comparison, digits: int) -> str:
    pct = c.measure in PROPORTION_MEASURES
    d = digits

    def est(v: Any) -> str:
        return _fmt(100 * float(v), 1) + "%" if pct and _present(v) else _fmt(v, d)

    title = {"smcr": "Standardised mean change (improvement positive)",
             "mean_change": "Mean change in points (improvement positive)",
             "recovery": "Reliable recovery rate", "reliable_improvement": "Reliable improvement rate",
             "take_up": "Take-up rate"}[c.measure]
    inst = f" - {'/'.join(c.instrument)}" if c.instrument else ""
    lines = [f"{title}{inst}; {c.method}{' + Knapp-Hartung' if c.knha else ''}", ""]
    per = c.per_programme
    name_w = max([len("programme"), *(len(str(p)) for p in per["programme_id"])]) + 2
    head = f"{'programme':<{name_w}}{'n':>6}  {'estimate':>9}  {'CI':>21}  {'weight':>7}  "
    lines.append(head)
    p = c.pooled.iloc[0]
    finite = [float(v) for v in (*per["ci_low"], *per["ci_high"], p["ci_low"], p["ci_high"]) if _present(v)]
    lo_ax, hi_ax = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi_ax <= lo_ax:
        hi_ax = lo_ax + 1.0
    width = 31

    def bar(lo: Any, mid: Any, hi: Any, mark: str = "o") -> str:
        if not (_present(lo) and _present(hi) and _present(mid)):
            return ""
        pos = [round((float(v) - lo_ax) / (hi_ax - lo_ax) * (width - 1)) for v in (lo, mid, hi)]
        cells = [" "] * width
        for i in range(pos[0], pos[2] + 1):
            cells[i] = "-"
        cells[pos[0]], cells[pos[2]] = "[", "]"
        cells[pos[1]] = mark
        return "".join(cells)

    for r in per.itertuples():
        n = "" if not _present(r.n) else f"{int(r.n)}"
        if r.included:
            ci = f"[{est(r.ci_low)}, {est(r.ci_high)}]"
            lines.append(f"{r.programme_id:<{name_w}}{n:>6}  {est(r.estimate):>9}  {ci:>21}  "
                         f"{_fmt(r.weight, 1) + '%':>7}  {bar(r.ci_low, r.estimate, r.ci_high)}")
        else:
            lines.append(f"{r.programme_id:<{name_w}}{n:>6}  {'-':>9}  {'':>21}  {'':>7}  left out: {r.reason}")
    ci = f"[{est(p['ci_low'])}, {est(p['ci_high'])}]"
    lines.append(f"{'pooled':<{name_w}}{'':>6}  {est(p['estimate']):>9}  {ci:>21}  {'100%':>7}  "
                 f"{bar(p['ci_low'], p['estimate'], p['ci_high'], '*')}")
    lines += [
        "",
        f"k = {p['k']}; prediction interval [{est(p['pi_low'])}, {est(p['pi_high'])}]; "
        f"tau^2 = {_fmt(p['tau2'], 4)}; I^2 = {_fmt(p['i2'], 1)}%; "
        f"Q({_fmt(p['q_df'], 0)}) = {_fmt(p['q'], 2)}, p = {_fmt(p['q_pvalue'], 3)}",
    ]
    if p["message"]:
        lines.append(str(p["message"]))
    if not c.subgroups.empty:
        lines += ["", "Subgroups"]
        for r in c.subgroups.itertuples():
            note = f"  ({r.note})" if r.note else ""
            lines.append(f"  {r.by} = {r.level}: k = {r.k}, {est(r.estimate)} "
                         f"[{est(r.ci_low)}, {est(r.ci_high)}]{note}")
    if not c.moderator_test.empty:
        lines += ["", "Test of moderators"]
        for r in c.moderator_test.itertuples():
            if r.tested:
                df = f"{int(r.df1)}" if r.test == "QM" else f"{int(r.df1)}, {_fmt(r.df2, 0)}"
                lines.append(f"  {r.moderators}: {r.test}({df}) = {_fmt(r.statistic, 3)}, p = {_fmt(r.pvalue, 4)}")
            else:
                lines.append(f"  {r.moderators}: not tested - {r.message}")
    if not c.funnel.empty:
        flagged = c.funnel[c.funnel["flag"] != "within"]
        lines += ["", "Funnel plot (95% and 99.8% limits around "
                  + (f"{est(c.funnel['target'].iloc[0])})" if len(c.funnel) else "the target)")]
        if flagged.empty:
            lines.append("  every programme within the 95% limits")
        for r in flagged.itertuples():
            side, lv = r.flag.split("_")
            lines.append(f"  {r.programme_id}: {side} the {100 * float(lv):g}% limit ({est(r.value)}, "
                         f"z = {_fmt(r.z, 2)})")
    lines += ["", c.direction]
    extra = [n for n in c.notes if not n.startswith("Moderator ")]
    if extra:
        lines += ["", "Notes"] + [f"  - {n}" for n in extra]
    lines += ["", "Rules:", *("  " + t for t in c.rules_text.splitlines())]
    return "\n".join(lines)
