"""The pairing and reporting rules: one configuration object behind every outcome figure.

Every choice that changes an outcome figure -- which score is the baseline,
which is the endpoint, what counts as a valid score, how much support makes an
episode count, how reliable change is judged, how small numbers are hidden --
lives in :class:`PairingRules`. Every function that produces outcomes takes a
``rules=`` argument, and every frame it returns carries the rules' plain
English statement (a ``rules`` column and ``frame.attrs["rules"]``), so a
figure can always be traced back to the rules that produced it.

Examples
--------
>>> from evalkit.rules import PairingRules
>>> rules = PairingRules(min_dose=3, endpoint_rule="window")
>>> rules.min_dose, rules.followup_weeks
(3, 12.0)
>>> print(PairingRules().describe().splitlines()[0])
Baseline: the first valid score (complete, prorated or total only) from 28 days before to 14 days after the first attended contact.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

__all__ = ["PairingRules", "DEFAULT_RULES", "WHOLE_NUMBER_SETTINGS"]

EndpointRule = Literal["last", "window"]
ReliabilitySource = Literal["instrument", "sample"]
RecoveryFrom = Literal["reliable", "any"]

_STATUSES = ("complete", "prorated", "insufficient_items", "total_only", "invalid")
_STATUS_WORDS = {"complete": "complete", "prorated": "prorated", "total_only": "total only",
                 "insufficient_items": "insufficient items", "invalid": "invalid"}


def _words(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _num(x: float) -> str:
    return f"{x:g}"


def _whole_number(value: object) -> int | None:
    """``value`` as the int it names -- ``2``, or ``2.0`` as JSON libraries and spreadsheets write it -- or None.

    None for a number with a fraction (never cut to a whole number), NaN, infinity, ``True``/``False``, text and
    anything else that is not a real number.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    try:
        x = float(value)
    except (OverflowError, ValueError):
        return None
    return int(x) if math.isfinite(x) and x.is_integer() else None


#: The whole-number settings: name -> (smallest value, what the error message says is expected).
_WHOLE_NUMBERS: dict[str, tuple[int, str]] = {
    "baseline_days_before": (0, "a whole number >= 0"),
    "baseline_days_after": (0, "a whole number >= 0"),
    "min_days_between": (0, "a whole number >= 0"),
    "min_dose": (0, "a whole number >= 0"),
    "min_alpha_n": (3, "a whole number >= 3"),
    "mm_session_max_obs": (0, "a whole number >= 0"),
    "mi_imputations": (2, "a whole number >= 2"),
    "seed": (0, "a whole number >= 0"),
    "suppression_threshold": (1, "a whole number >= 1 (1 turns suppression off)"),
    "rounding_base": (1, "None or a whole number >= 1"),
}


WHOLE_NUMBER_SETTINGS: frozenset[str] = frozenset(_WHOLE_NUMBERS)
"""The settings of :class:`PairingRules` that are one whole number (``min_dose``, ``suppression_threshold`` ...);
``dose_thresholds`` is a tuple of whole numbers."""


@dataclass(frozen=True)
class PairingRules:
    """Rules for choosing baseline and endpoint scores and for reporting outcomes.

    Parameters
    ----------
    baseline_days_before, baseline_days_after
        The baseline window around the *anchor* (the first attended contact):
        the baseline is the first valid score dated from ``anchor -
        baseline_days_before`` to ``anchor + baseline_days_after`` inclusive.
        Defaults 28 and 14 days.
    endpoint_rule
        ``"last"`` (default): the last valid score after the baseline -- the
        'last observation' NHS Talking Therapies reports (first and last
        scores of a course). ``"window"``: the valid score closest to
        ``followup_weeks`` after the first attended contact (the start of
        support) within ``+/- followup_tolerance_weeks`` (ties go to the later
        score).
    followup_weeks, followup_tolerance_weeks
        The fixed follow-up window for ``endpoint_rule="window"``, also the
        period the mixed model estimates change to (default
        12 +/- 4 weeks after the first attended contact).
    min_days_between
        Smallest gap in days between baseline and endpoint (default 14: the
        PHQ-9, GAD-7 and WEMWBS ask about the last two weeks, so a score
        within 14 days of the baseline shares its recall period).
    min_dose
        Fewest attended contacts between baseline and endpoint (inclusive)
        for a pair to count (default 2, mirroring NHS Talking Therapies'
        'finished a course of treatment': at least two attended appointments).
        Programmes recording only ``sessions_attended`` use that count. With
        0 a pair needs no dose between its scores but still needs support to
        have started (at least one attended contact over the referral, or a
        first contact date where ``sessions_attended`` is not recorded).
        'Engaged', the completeness denominator, is support started and at
        least ``min_dose`` attended over the referral
        (:func:`evalkit.episodes.engaged_mask`): every paired mother is
        engaged.
    valid_statuses
        Score statuses that count as valid (default complete, prorated and
        total only; see :data:`evalkit.scoring.SCORE_STATUSES`).
    reliability_source
        ``"instrument"`` (default): reliability and SD for the Jacobson-Truax
        RCI from the instrument file (``reliability``, ``reference_sd``); when
        the file has no reference SD, the sample SD is used and the output
        says so. ``"sample"``: the SD of the baselines of paired episodes, and
        Cronbach's alpha of the baseline item responses when at least
        ``min_alpha_n`` complete item sets exist (otherwise the file's
        reliability, said so).
    rci_z
        Critical value for the computed RCI (default 1.96, two-sided 95%).
    use_published_threshold
        Judge reliable change by the reliable-change threshold of the
        instrument file when it has one (published: EPDS 4, PHQ-9 6, GAD-7 4,
        SWEMWBS 2.87; derived by the file from a published SD and alpha, and
        said so in ``rc_threshold_source``: WEMWBS 7.5; change >= threshold),
        otherwise by the computed RCI (default True).
    recovery_from
        ``"reliable"`` (default): 'recovered from' symptoms needs reliable
        recovery (caseness at baseline, not at endpoint, and reliable
        improvement). ``"any"``: crossing below caseness is enough.
    min_alpha_n
        Complete baseline item sets needed to estimate Cronbach's alpha from
        the sample (default 30).
    mm_max_weeks
        Scores later than this many weeks after the baseline are left out of
        the mixed model (default 52).
    mm_session_effects
        Whether the mixed model adds a crossed variance component for the
        group session at which a score was recorded: ``"never"`` (default),
        ``"auto"`` (when a programme has group sessions, at least 20% of its
        scores were recorded at one and the model has at most
        ``mm_session_max_obs`` scores; dropped again, with a note, when it
        does not converge or is estimated at zero) or ``"always"``. Off by
        default because statsmodels fits crossed effects as one dense group:
        about 400 scores already took minutes in testing.
    mm_session_max_obs
        Size limit for ``"auto"`` (default 300 scores; a whole number >= 0).
    mi_imputations
        Number of multiple imputations (default 20).
    seed
        Seed for the imputation draws (results are reproducible; a whole
        number >= 0).
    dose_thresholds
        Minimum doses for the dose-threshold sensitivity analysis
        (default 1, 2, 3, 4, 6, 8 attended contacts).
    level
        Confidence level of every interval (default 0.95).
    suppression_threshold
        Counts from 1 to ``suppression_threshold - 1`` are hidden (default 5).
    show_zero
        Whether a count of 0 is published (default True: a true zero is not
        a small number about anyone; set False to hide zeros too).
    rounding_base
        Round published counts to this base after suppression (default None:
        no rounding; e.g. 5).

    Notes
    -----
    A whole-number setting (the days, ``min_dose``, ``min_alpha_n``,
    ``mm_session_max_obs``, ``mi_imputations``, ``seed``, ``dose_thresholds``,
    ``suppression_threshold``, ``rounding_base``) may be given as a number
    with no fraction written with a decimal point (``2.0``, as JSON libraries
    and spreadsheets write it): it is kept as the int, so the rules and their
    text are those ``2`` gives. A fraction (``2.5``), ``True``/``False``,
    text, NaN or infinity is refused with a ValueError naming the setting.
    """

    baseline_days_before: int = 28
    baseline_days_after: int = 14
    endpoint_rule: EndpointRule = "last"
    followup_weeks: float = 12.0
    followup_tolerance_weeks: float = 4.0
    min_days_between: int = 14
    min_dose: int = 2
    valid_statuses: tuple[str, ...] = ("complete", "prorated", "total_only")
    reliability_source: ReliabilitySource = "instrument"
    rci_z: float = 1.96
    use_published_threshold: bool = True
    recovery_from: RecoveryFrom = "reliable"
    min_alpha_n: int = 30
    mm_max_weeks: float = 52.0
    mm_session_effects: Literal["auto", "never", "always"] = "never"
    mm_session_max_obs: int = 300
    mi_imputations: int = 20
    seed: int = 20250101
    dose_thresholds: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    level: float = 0.95
    suppression_threshold: int = 5
    show_zero: bool = True
    rounding_base: int | None = None

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> None:
            raise ValueError(f"PairingRules.{name} must be {expected}; got {getattr(self, name)!r}")

        # a whole number as int or float (2 or 2.0: JSON and spreadsheets write either), kept as the int; a
        # fraction is refused, never cut to a whole number
        for name, (least, expected) in _WHOLE_NUMBERS.items():
            v = getattr(self, name)
            if v is None and name == "rounding_base":
                continue
            whole = _whole_number(v)
            if whole is None or whole < least:
                bad(name, expected)
            object.__setattr__(self, name, whole)
        if self.endpoint_rule not in ("last", "window"):
            bad("endpoint_rule", "'last' or 'window'")
        if not (self.followup_weeks > 0):
            bad("followup_weeks", "> 0")
        if not (0 <= self.followup_tolerance_weeks < self.followup_weeks):
            bad("followup_tolerance_weeks", "between 0 and followup_weeks")
        statuses = tuple(self.valid_statuses) if not isinstance(self.valid_statuses, str) else (self.valid_statuses,)
        object.__setattr__(self, "valid_statuses", statuses)
        if not statuses or any(s not in _STATUSES for s in statuses) or "invalid" in statuses \
                or "insufficient_items" in statuses:
            bad("valid_statuses", "a non-empty subset of ('complete', 'prorated', 'total_only')")
        if self.reliability_source not in ("instrument", "sample"):
            bad("reliability_source", "'instrument' or 'sample'")
        if not (self.rci_z > 0):
            bad("rci_z", "> 0 (e.g. 1.96)")
        if self.recovery_from not in ("reliable", "any"):
            bad("recovery_from", "'reliable' or 'any'")
        if not (self.mm_max_weeks > self.followup_weeks + self.followup_tolerance_weeks):
            bad("mm_max_weeks", "beyond the follow-up window (followup_weeks + followup_tolerance_weeks)")
        if self.mm_session_effects not in ("auto", "never", "always"):
            bad("mm_session_effects", "'auto', 'never' or 'always'")
        # a list or tuple of thresholds; anything else (3, None, text) is refused below, never iterated
        given = tuple(self.dose_thresholds) if isinstance(self.dose_thresholds, list | tuple) else ("not a list",)
        thresholds = tuple(_whole_number(d) for d in given)
        if not thresholds or any(d is None or d < 0 for d in thresholds):
            bad("dose_thresholds", "a non-empty tuple of whole numbers >= 0")
        object.__setattr__(self, "dose_thresholds", thresholds)
        if not (0 < self.level < 1):
            bad("level", "between 0 and 1 (e.g. 0.95)")

    # ------------------------------------------------------------------
    @property
    def sample_reliability(self) -> bool:
        """Whether reliable change uses the sample's reliability (``reliability_source="sample"``): Cronbach's
        alpha of the baseline item responses, the one reader of the scored measures' items once the episodes
        are prepared (:func:`evalkit.episodes.prepare_episodes`, ``keep_scored_measures``)."""
        return self.reliability_source == "sample"

    def replace(self, **changes: Any) -> PairingRules:
        """A copy with some rules changed (validated), e.g. ``rules.replace(min_dose=4)``."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown rule(s) {sorted(unknown)}; allowed: {sorted(f.name for f in fields(self))}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The rules as a plain dict (JSON-ready)."""
        d = asdict(self)
        d["valid_statuses"] = list(self.valid_statuses)
        d["dose_thresholds"] = list(self.dose_thresholds)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairingRules:
        """Rebuild rules from :meth:`to_dict` output (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown rule(s) {sorted(unknown)}; allowed: {sorted(known)}")
        d = dict(data)
        for key in ("valid_statuses", "dose_thresholds"):
            if isinstance(d.get(key), list):  # JSON's lists; anything else is left for the checks to refuse
                d[key] = tuple(d[key])
        return cls(**d)

    def stamp(self, frame: Any) -> Any:
        """Mark an output with these rules: a ``rules`` column (one category, :meth:`describe`) and ``attrs["rules"]``.

        Every table the rules produce carries them, so it is never read without
        the rules that made it. Changes ``frame`` (a pandas DataFrame) in place
        and returns it.
        """
        import numpy as np
        import pandas as pd

        text = self.describe()
        frame["rules"] = pd.Categorical.from_codes(np.zeros(len(frame), dtype=np.int8), categories=[text])
        frame.attrs["rules"] = text
        return frame

    def describe(self) -> str:
        """A plain-English statement of the rules, one sentence per line.

        Returns
        -------
        str
            The text attached to every outcome output (``rules`` column and
            ``frame.attrs["rules"]``).
        """
        statuses = _words([_STATUS_WORDS[s] for s in self.valid_statuses])
        lines = [
            f"Baseline: the first valid score ({statuses}) from {self.baseline_days_before} days before to "
            f"{self.baseline_days_after} days after the first attended contact.",
        ]
        if self.endpoint_rule == "last":
            lines.append(
                f"Endpoint: the last valid score after the baseline (last observation), at least "
                f"{self.min_days_between} days after it.")
        else:
            lo = self.followup_weeks - self.followup_tolerance_weeks
            hi = self.followup_weeks + self.followup_tolerance_weeks
            lines.append(
                f"Endpoint: the valid score closest to {_num(self.followup_weeks)} weeks after the first attended "
                f"contact, within {_num(lo)} to {_num(hi)} weeks, and at least {self.min_days_between} days after "
                "the baseline.")
        lines.append(
            f"Paired only with at least {self.min_dose} attended contact{'s' if self.min_dose != 1 else ''} "
            "between baseline and endpoint (or the sessions attended as the provider recorded them, where a "
            "programme keeps no contact rows)"
            + (", and at least one attended over the referral." if self.min_dose == 0 else "."))
        if self.use_published_threshold:
            rc = ("Reliable change: the instrument's published reliable-change threshold where there is one "
                  f"(change at least that large), otherwise the Jacobson-Truax RCI (|RCI| > {_num(self.rci_z)})")
        else:
            rc = f"Reliable change: the Jacobson-Truax RCI (|RCI| > {_num(self.rci_z)})"
        if self.reliability_source == "instrument":
            rc += " with the instrument file's reliability and reference SD (the sample's baseline SD where the file has none)."
        else:
            rc += (" with the SD of the paired baselines and Cronbach's alpha of the baseline items "
                   f"(the file's reliability when fewer than {self.min_alpha_n} complete item sets).")
        lines.append(rc)
        lines.append("Recovered from symptoms: at caseness at baseline and below it at endpoint"
                     + (", with reliable improvement." if self.recovery_from == "reliable" else " (reliable or not)."))
        hidden = f"Counts from 1 to {self.suppression_threshold - 1}" if self.show_zero \
            else f"Counts from 0 to {self.suppression_threshold - 1}"
        if self.suppression_threshold <= 1:
            sup = "No small-number suppression."
        else:
            sup = (f"{hidden} are hidden, with secondary suppression so they cannot be worked out from totals, "
                   "and figures derived from hidden counts are hidden too")
            sup += f"; published counts are then rounded to the nearest {self.rounding_base}." \
                if self.rounding_base and self.rounding_base > 1 else "; counts are not rounded."
        lines.append(sup)
        lines.append(f"Intervals are {round(self.level * 100, 6):g}% confidence intervals.")
        return "\n".join(lines)

    def short(self) -> str:
        """A one-line summary of the pairing rules (for table footers)."""
        end = "last score" if self.endpoint_rule == "last" else \
            f"score nearest {_num(self.followup_weeks)}\u00b1{_num(self.followup_tolerance_weeks)} wk"
        return (f"baseline -{self.baseline_days_before}/+{self.baseline_days_after} d of first contact; "
                f"endpoint {end}, >= {self.min_days_between} d later; min dose {self.min_dose}; "
                f"RC {'published or ' if self.use_published_threshold else ''}JT z={_num(self.rci_z)} "
                f"({self.reliability_source}); suppress < {self.suppression_threshold}"
                + (f", round to {self.rounding_base}" if self.rounding_base else ""))

    def __str__(self) -> str:
        return self.describe()


DEFAULT_RULES = PairingRules()
"""The default rules (see :class:`PairingRules`)."""
