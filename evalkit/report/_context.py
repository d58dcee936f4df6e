"""The report's shared context: what every section needs, the guards, and the protection of counts.

No statistic is computed in the report modules. Tables are the library's own
frames (disclosure-controlled there); the sections only pick rows and columns,
reshape them for reading, and format numbers. The few library outputs that are
not disclosure-controlled at source (instrument parameters, the exploratory
model tables, counts quoted in library notes) are protected here with
:func:`evalkit.disclosure.apply_disclosure` and the same rules before they are
shown or kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from evalkit.disclosure import Partition, apply_disclosure, hidden_columns
from evalkit.instruments import Instrument
from evalkit.outcomes import OutcomeResult
from evalkit.report._figures import Figures
from evalkit.report._html import (
    esc,
    is_missing,
    scrub_small_counts,
)
from evalkit.rules import PairingRules

ROLE_ORDER = ("symptom", "wellbeing", "recovery", "loneliness", "other")
LIBRARY_TEXT = ("mm_note", "mi_note", "es_note", "status", "sd_source")
"""Library-written text columns that may quote a count of people; small counts in them are replaced by the marker."""
VALENCE_WORDS = {"negative": "What can go wrong", "ending": "Worry about ending", "positive": "What helps"}


@dataclass
class Ctx:
    """What every section needs, and what the sections produce (tables, notes)."""

    tables: Mapping[str, pd.DataFrame]
    result: OutcomeResult
    rules: PairingRules
    registry: Mapping[str, Instrument]
    programmes: pd.DataFrame
    pids: list[str]
    figures: Figures
    breakdowns: Sequence[str]
    out: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    ahead: dict[str, Any] = field(default_factory=dict)
    """Library tables computed ahead of their place (:func:`evalkit.report._ahead.compute_ahead`), by name."""

    @property
    def ci(self) -> str:
        return f"{round(self.rules.level * 100, 6):g}% CI"

    @property
    def threshold(self) -> int:
        return int(self.rules.suppression_threshold)

    def compute(self, name: str, what: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame | None:
        """Call a library function and keep its table; a problem it reports becomes a note (``None`` returned)."""
        from evalkit.errors import EvalkitError

        try:
            frame = build()
        except (ValueError, EvalkitError) as exc:
            self.notes.append(f"{what} could not be produced from these data: {exc}")
            return None
        self.keep(name, frame)
        return self.out[name]

    def missing(self, what: str) -> str:
        """The paragraph shown where a table could not be produced."""
        return f'<p class="warn">{esc(what)} could not be produced from these data (see the notes in the methods ' \
               "appendix).</p>"

    def keep(self, name: str, frame: pd.DataFrame) -> str:
        """Keep a table for :attr:`Report.tables` (library text columns protected); returns its name."""
        self.out[name] = protect_text(frame, self.threshold)
        return name

    def name(self, pid: object) -> str:
        """A programme's name (plain text), or its id."""
        pid = str(pid)
        if "name" in self.programmes.columns:
            hit = self.programmes.loc[self.programmes["programme_id"].astype(str) == pid, "name"]
            if len(hit) and not is_missing(hit.iloc[0]):
                return str(hit.iloc[0])
        return pid

    def prog(self, pid: object) -> str:
        """A programme as a table row header: its name and id (HTML, escaped)."""
        name = self.name(pid)
        if name == str(pid):
            return esc(pid)
        return f'{esc(name)} <span class="pid">{esc(pid)}</span>'

    def inst(self, code: object) -> Instrument | None:
        return self.registry.get(str(code))

    def abbr(self, code: object) -> str:
        ins = self.inst(code)
        return str(ins.definition.get("abbreviation") or ins.name) if ins else str(code).upper()


def protect_text(frame: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """``frame`` with small counts of people in library-written text columns replaced by the marker."""
    cols = [c for c in LIBRARY_TEXT if c in frame.columns]
    if not cols:
        return frame
    out = frame.copy()
    for c in cols:
        s = out[c]
        mask = s.notna()
        if mask.any():
            out[c] = s.astype(object).where(~mask, s[mask].astype(str).map(lambda t: scrub_small_counts(t, threshold)))
    out.attrs = dict(frame.attrs)
    return out


def rows_of(frame: pd.DataFrame, **where: object) -> pd.DataFrame:
    m = pd.Series(True, index=frame.index)
    for k, v in where.items():
        m &= frame[k].astype(str) == str(v)
    return frame[m]


def first_shown(rows: pd.DataFrame, col: str) -> dict[str, Any] | None:
    """The first row whose ``col`` is published (not hidden, not missing), else the first row."""
    recs = rows.to_dict("records")
    for r in recs:
        if col not in hidden_columns(r) and not is_missing(r.get(col)):
            return r
    return recs[0] if recs else None


def section(sid: str, title: str, body: str, intro: str | None = None) -> str:
    lead = f'<p class="lead">{esc(intro)}</p>' if intro else ""
    return f'<section id="{sid}" aria-labelledby="{sid}-h"><h2 id="{sid}-h">{esc(title)}</h2>{lead}{body}</section>'


def guarded(ctx: Ctx, what: str, build: Callable[[], str]) -> str:
    """Run a part of a section; a data problem the library reports becomes a visible note, not a crash.

    What the parts before freed is handed back first (:func:`evalkit.memory.release_freed_memory`, at a million
    participants only): each part's frames are its own and freed when it ends, and without this the pools and
    heaps they leave add to every later part's peak.
    """
    from evalkit.errors import EvalkitError
    from evalkit.memory import release_freed_memory

    release_freed_memory()
    try:
        return build()
    except (ValueError, EvalkitError) as exc:
        msg = f"{what} could not be produced from these data: {exc}"
        ctx.notes.append(msg)
        return f'<p class="warn">{esc(msg)}</p>'


def role_rank(role: object) -> int:
    r = str(role)
    return ROLE_ORDER.index(r) if r in ROLE_ORDER else len(ROLE_ORDER)


def slug(text: object) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-") or "x"


def protect_model_table(frame: pd.DataFrame, rules: PairingRules) -> pd.DataFrame:
    """The exploratory model tables quote the mothers in each model (``n``, ``n_events``): hide small ones.

    :mod:`evalkit.mechanisms` protects them at source (a ``suppressed`` column): such a frame is kept as it is.
    """
    if "suppressed" in frame.columns:
        return frame
    if frame.empty:
        out = frame.copy()
        out["suppressed"] = pd.Series(dtype="string")
        return out
    f = frame.copy()
    counts = [c for c in ("n", "n_events") if c in f.columns]
    parts = [Partition(("n_events",), total="n", remainder=True)] if len(counts) == 2 else []
    out = apply_disclosure(f, counts=counts, partitions=parts, rules=rules)
    out.attrs = dict(frame.attrs)
    return out


def protect_parameters(params: pd.DataFrame, rules: PairingRules) -> pd.DataFrame:
    """Instrument parameters with ``n_sd`` disclosure-controlled (:func:`evalkit.outcomes.disclose_parameters`).

    :func:`evalkit.outcomes.evaluate_outcomes` protects them at source (a ``suppressed`` column): such a frame
    is kept as it is.
    """
    from evalkit.outcomes import disclose_parameters

    return params if "suppressed" in params.columns else disclose_parameters(params, rules=rules)
