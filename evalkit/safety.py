"""The safety list: individual-level signals for the provider, never aggregated or published.

Two kinds of signal are listed, one row each:

* a **self-harm item above zero** -- EPDS item 10 or PHQ-9 item 9 (the
  ``flag_self_harm`` column of :func:`evalkit.scoring.score`, driven by the
  instruments' ``safety_items``): 'any score > 0 should prompt further
  assessment, whatever the total' (instruments.md section 1; section 12,
  note 5). Every questionnaire with the flag is listed, whatever its score
  status, since an answered safety item counts even when the rest is
  incomplete;
* a **reliable deterioration** in an episode (headline criterion of
  :func:`evalkit.change.episode_change`).

This list is for the people supporting the mothers. It must never be
counted into an aggregate output; nothing in evalkit's aggregate functions
reads it. The frame carries ``attrs["individual_level"] = True``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from evalkit.data_source import coerce_tables
from evalkit.instruments import Instrument, builtin_instruments
from evalkit.scoring import ItemCoding, keyed_scores

__all__ = ["SAFETY_COLUMNS", "safety_list"]

SAFETY_COLUMNS: tuple[str, ...] = (
    "programme_id", "participant_id", "date", "instrument", "signal", "item", "item_value", "item_as_given", "score",
    "baseline_date", "baseline_score", "change", "threshold", "reason",
)
"""Columns of :func:`safety_list`."""


def _fmt(x: pd.Series) -> pd.Series:
    v = pd.to_numeric(x, errors="coerce").astype(float)
    whole = np.isfinite(v) & (v == np.round(v))
    txt = v.round(2).astype(str)
    return pd.Series(np.where(whole, v.fillna(0).round().astype(np.int64).astype(str), txt), index=x.index)


def safety_list(
    tables: Mapping[str, pd.DataFrame] | pd.DataFrame,
    outcomes: object | None = None,
    *,
    instruments: Mapping[str, Instrument] | None = None,
    item_coding: ItemCoding | None = None,
) -> pd.DataFrame:
    """Every self-harm item above zero and every reliable deterioration, for the provider.

    Parameters
    ----------
    tables
        Canonical tables (with ``measures``), or the scored measures frame
        itself (output of :func:`evalkit.scoring.score`).
    outcomes
        Episode changes (:func:`evalkit.change.episode_change`) or an
        :class:`~evalkit.outcomes.OutcomeResult`, for reliable
        deteriorations. Without it only item signals are listed.
    instruments
        Instrument registry (default: built-in).
    item_coding
        How the item cells are coded (see :func:`evalkit.scoring.score`):
        ``"keyed"`` or ``"response_position"``. Default: as recorded by
        :func:`~evalkit.scoring.score` on a scored frame
        (``attrs["item_coding"]``), else ``"keyed"``. Refused when it
        contradicts the coding the frame was scored with.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SAFETY_COLUMNS`, one row per signal, sorted by
        programme, participant and date:

        * ``signal``: ``self_harm_item`` or ``reliable_deterioration``;
        * ``item``, ``item_value``: the safety item (e.g. ``item_10`` of the
          EPDS) and its scored (keyed) value, the value compared with the
          threshold (item signals);
        * ``item_as_given``: the cell as recorded, only where it differs from
          ``item_value``: with ``item_coding="response_position"`` a
          reverse-keyed item's cell is the form position, ``keyed = item_min
          + item_max - position`` (EPDS item 10 is reverse keyed: position 0,
          'Yes, quite often', scores 3); blank otherwise;
        * ``date``, ``score``: the questionnaire (for deteriorations: the
          endpoint), with ``baseline_date``, ``baseline_score``, ``change``
          and ``threshold`` (the reliable-change threshold used) for
          deteriorations;
        * ``reason``: a sentence for the person reading the list.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"programme_id": "P", "participant_id": ["A", "B"], "instrument": "epds",
    ...                   "completed_on": pd.to_datetime(["2025-01-10", "2025-01-11"]),
    ...                   **{f"item_{i}": [1, 0] for i in range(1, 11)}})
    >>> safety_list(m)[["participant_id", "signal", "item", "item_value"]]
      participant_id          signal     item  item_value
    0              A  self_harm_item  item_10         1.0
    """
    registry = builtin_instruments() if instruments is None else instruments
    if isinstance(tables, pd.DataFrame):
        measures = tables
    else:
        measures = coerce_tables(tables).get("measures")
        if measures is None:
            raise ValueError("tables must include 'measures' (or pass the scored measures frame)")
    if item_coding not in (None, "keyed", "response_position"):
        raise ValueError(f"item_coding must be 'keyed' or 'response_position'; got {item_coding!r}")
    if not {"score", "score_status"} <= set(measures.columns):
        from evalkit.scoring import score

        measures = score(measures, instruments=registry, item_coding=item_coding or "keyed")
    recorded = measures.attrs.get("item_coding")
    if item_coding is not None and recorded is not None and item_coding != recorded:
        raise ValueError(f"the measures were scored with item_coding={recorded!r}, not {item_coding!r}; "
                         "pass the coding they were scored with (or score them again)")
    coding = item_coding or recorded or "keyed"
    rows = []
    code = measures["instrument"].astype("string").str.strip().str.lower()
    for inst_code, inst in registry.items():
        for item in inst.safety_items:
            flag_col = f"flag_{item.flag}"
            if flag_col not in measures.columns:
                continue
            col = f"item_{item.item}"
            mask = (code == inst_code).fillna(False) & measures[flag_col].astype("boolean").fillna(False)
            if not mask.any():
                continue
            m = measures[mask]
            given = pd.to_numeric(m[col], errors="coerce") if col in m.columns else pd.Series(np.nan, index=m.index)
            given = given.to_numpy(dtype=float)
            val = keyed_scores(inst, item.item, given, coding)
            differs = np.isfinite(given) & (val != given)
            part = pd.DataFrame({
                "programme_id": m["programme_id"].astype("string").array,
                "participant_id": m["participant_id"].astype("string").array,
                "date": pd.to_datetime(m["completed_on"]).to_numpy(dtype="datetime64[ns]"),
                "instrument": inst_code, "signal": "self_harm_item", "item": col,
                "item_value": val, "item_as_given": np.where(differs, given, np.nan),
                "score": m["score"].to_numpy(dtype=float),
            })
            shown = _fmt(part["item_value"]).to_numpy(dtype=object)
            as_given = ("; as given " + _fmt(pd.Series(given)).fillna("").to_numpy(dtype=object)
                        + ", the form position, reverse keyed")
            part["reason"] = (f"{inst.name} item {item.item} ({item.flag.replace('_', ' ')}) "
                              + np.where(differs, "scored " + shown, "answered " + shown)
                              + f" ({item.operator} {item.value:g}" + np.where(differs, as_given, "") + "): "
                              + f"{item.note or 'prompts further assessment, whatever the total'}")
            rows.append(part)
    if outcomes is not None:
        ch = getattr(outcomes, "changes", outcomes)
        det = ch[ch["reliable_deterioration"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
        if len(det):
            change = (det["endpoint_score"] - det["baseline_score"]).to_numpy(dtype=float)
            part = pd.DataFrame({
                "programme_id": det["programme_id"].astype("string").array,
                "participant_id": det["participant_id"].astype("string").array,
                "date": det["endpoint_date"].to_numpy(dtype="datetime64[ns]"),
                "instrument": det["instrument"].astype("string").array, "signal": "reliable_deterioration",
                "item": pd.NA, "item_value": np.nan, "score": det["endpoint_score"].to_numpy(dtype=float),
                "baseline_date": det["baseline_date"].to_numpy(dtype="datetime64[ns]"),
                "baseline_score": det["baseline_score"].to_numpy(dtype=float), "change": change,
                "threshold": det["rc_threshold"].to_numpy(dtype=float),
            })
            direction = np.where(det["higher_is_better"].astype(bool), "fell", "rose")
            part["reason"] = ("reliable deterioration: " + part["instrument"].astype(str) + " "
                              + direction.astype(object) + " from " + _fmt(part["baseline_score"]) + " to "
                              + _fmt(part["score"]) + " (change " + _fmt(pd.Series(change)).to_numpy(dtype=object)
                              + "; threshold " + _fmt(part["threshold"]) + ")")
            rows.append(part)
    if rows:
        out = pd.concat(rows, ignore_index=True)
    else:
        out = pd.DataFrame({c: pd.Series(dtype="object") for c in SAFETY_COLUMNS})
    for c in SAFETY_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    out = out[list(SAFETY_COLUMNS)]
    for c in ("programme_id", "participant_id", "instrument", "signal", "item", "reason"):
        out[c] = out[c].astype("string")
    for c in ("date", "baseline_date"):
        out[c] = pd.to_datetime(out[c])
    for c in ("item_value", "item_as_given", "score", "baseline_score", "change", "threshold"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    out = out.sort_values(["programme_id", "participant_id", "date", "signal"]).reset_index(drop=True)
    out.attrs["individual_level"] = True
    out.attrs["note"] = "Individual-level safety signals for the provider; never publish or aggregate."
    return out
