"""Change in one episode: raw change, reliable change (Jacobson & Truax 1991) and clinical significance.

Sign convention (as everywhere in evalkit): ``change = endpoint - baseline``.
``improvement`` is the change turned so that a positive value is better
(``-change`` for symptom measures, ``change`` for wellbeing and recovery
measures).

Two reliable-change criteria are computed and kept apart:

* the **computed RCI** of Jacobson & Truax (1991): ``RCI = change / S_diff``
  with ``S_diff = sqrt(2) * SD * sqrt(1 - r)``; reliable when ``|RCI| > z``
  (columns ``rci``, ``jt_threshold``, ``jt_reliable_improvement``,
  ``jt_reliable_deterioration``) -- computed with
  :func:`evalkit.stats.jacobson_truax` and
  :func:`evalkit.stats.reliable_change_threshold`;
* the **headline** criterion (``reliable_improvement``,
  ``reliable_deterioration``, ``rc_threshold``, ``rc_threshold_source``): the
  instrument's published reliable-change threshold where its file has one
  (EPDS 4 [Matthey 2004], PHQ-9 6 and GAD-7 4 [NHS Talking Therapies],
  SWEMWBS 2.87 [Shah et al. 2018], WEMWBS 7.5 [derived, instruments.md
  section 5]; a change *at least* that large), otherwise the computed RCI.

For wellbeing measures with a scale authors' 'meaningful change' figure
(WEMWBS 3 points, Warwick FAQ; SWEMWBS 1.03 = 1 SEM, Shah et al. 2018) the
columns ``meaningful_improvement`` / ``meaningful_deterioration`` apply that
figure. It is *not* a 95% reliable-change threshold (it is about 1 SEM); the
columns are labelled so nobody mistakes one for the other.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from evalkit.instruments import Instrument, builtin_instruments
from evalkit.rules import PairingRules

__all__ = ["CHANGE_COLUMNS", "CS_CATEGORIES", "cronbach_alpha", "episode_change", "instrument_parameters"]

CS_CATEGORIES: tuple[str, ...] = ("recovered", "improved", "unchanged", "deteriorated", "harmed")
"""Clinical-significance categories (Jacobson & Truax 1991), best first."""

CHANGE_COLUMNS: tuple[str, ...] = (
    "change", "improvement", "reliability_used", "reliability_source", "sd_used", "sd_source", "s_diff", "rci",
    "jt_threshold", "jt_reliable_improvement", "jt_reliable_deterioration",
    "rc_threshold", "rc_threshold_source", "reliable_improvement", "reliable_deterioration", "no_reliable_change",
    "cutoff", "caseness_baseline", "caseness_endpoint", "cs_category",
    "meaningful_change_threshold", "meaningful_improvement", "meaningful_deterioration",
)
"""Columns :func:`episode_change` adds to the episodes."""

_EPS = 1e-9


def cronbach_alpha(items: np.ndarray) -> float:
    """Cronbach's alpha of complete item responses (rows = people, columns = items).

    ``alpha = k / (k - 1) * (1 - sum(var_item) / var_total)`` (Cronbach 1951),
    variances with ``ddof=1``; rows with a missing item are dropped. Returns
    NaN with fewer than 3 complete rows or zero total variance.

    Examples
    --------
    Item variances 5/3, 4.75/3, 2.75/3 (sum 12.5/3); totals 5, 8, 10, 13 have
    variance 34/3; alpha = 1.5 x (1 - 12.5/34) = 0.9485.

    >>> x = np.array([[1, 2, 2], [2, 3, 3], [3, 3, 4], [4, 5, 4]], dtype=float)
    >>> round(cronbach_alpha(x), 4)
    0.9485
    """
    x = np.asarray(items, dtype=float)
    x = x[~np.isnan(x).any(axis=1)]
    n, k = x.shape if x.ndim == 2 else (0, 0)
    if n < 3 or k < 2:
        return float("nan")
    total_var = x.sum(axis=1).var(ddof=1)
    if not total_var > 0:
        return float("nan")
    return float(k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total_var))


def _cutoff_text(inst: Instrument) -> str | None:
    c = inst.default_cutoff
    return None if c is None else f"{c.operator} {c.value:g} ({c.name})"


def _caseness(inst: Instrument, scores: np.ndarray) -> pd.arrays.BooleanArray:
    c = inst.default_cutoff
    if c is None:
        return pd.array([pd.NA] * len(scores), dtype="boolean")
    vals = np.asarray(scores, dtype=float)
    res = pd.array(c.applies(vals).astype(bool), dtype="boolean")
    res[np.isnan(vals)] = pd.NA
    return res


def _sample_alpha(inst: Instrument, episodes: pd.DataFrame, scored: pd.DataFrame | None) -> tuple[float, int]:
    """Alpha of the baseline item responses of paired episodes (complete questionnaires only)."""
    if scored is None or "score_status" not in scored.columns:
        return float("nan"), 0
    ep = episodes.loc[episodes["paired"], ["participant_id", "baseline_date"]]
    m = scored[(scored["instrument"].astype("string").str.strip().str.lower() == inst.code).fillna(False)
               & (scored["score_status"] == "complete").fillna(False)]
    cols = [c for c in inst.item_columns if c in m.columns]
    if len(cols) != inst.n_items or not len(ep) or not len(m):
        return float("nan"), 0
    mm = pd.DataFrame({"participant_id": m["participant_id"].astype("string").array,
                       "baseline_date": pd.to_datetime(m["completed_on"]).to_numpy(dtype="datetime64[ns]")})
    for c in cols:
        mm[c] = pd.to_numeric(m[c], errors="coerce").to_numpy(dtype=float)
    mm = mm.drop_duplicates(["participant_id", "baseline_date"])
    got = ep.merge(mm, on=["participant_id", "baseline_date"], how="inner")
    x = got[cols].to_numpy(dtype=float)
    x = x[~np.isnan(x).any(axis=1)]
    return cronbach_alpha(x), len(x)


def instrument_parameters(
    episodes: pd.DataFrame,
    *,
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    scored_measures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The reliability, SD and thresholds used for each instrument's reliable change.

    Parameters
    ----------
    episodes
        Output of :func:`evalkit.episodes.build_episodes`.
    rules
        ``reliability_source``, ``rci_z``, ``use_published_threshold`` and
        ``min_alpha_n`` are used.
    scored_measures
        Scored measures (item columns), needed only for
        ``reliability_source="sample"`` (Cronbach's alpha of baseline items).

    Returns
    -------
    pandas.DataFrame
        One row per instrument present: ``instrument``, ``higher_is_better``,
        ``reliability_used``, ``reliability_source``, ``sd_used``,
        ``sd_source``, ``n_sd`` (paired baselines used for a sample SD),
        ``s_diff``, ``jt_threshold`` (``z * S_diff``), ``published_threshold``,
        ``rc_threshold``, ``rc_threshold_source``, ``meaningful_change_threshold``,
        ``cutoff``.

    Notes
    -----
    The sample SD is the SD (``ddof=1``) of the baseline scores of the paired
    episodes of that instrument across all the episodes given (all
    programmes together), so that one instrument has one threshold whichever
    programme is looked at.
    """
    rules = PairingRules() if rules is None else rules
    registry = builtin_instruments() if instruments is None else instruments
    from evalkit.stats import reliable_change_threshold

    rows = []
    # only the columns used below, so that selecting an instrument's rows does not copy the wide episode frame
    narrow = episodes[[c for c in ("instrument", "paired", "baseline_score", "participant_id", "baseline_date")
                       if c in episodes.columns]]
    for code in sorted(episodes["instrument"].dropna().unique()):
        inst = registry[code]
        sub = narrow[narrow["instrument"] == code]
        paired_base = sub.loc[sub["paired"], "baseline_score"].to_numpy(dtype=float)
        n_sd = int(np.isfinite(paired_base).sum())
        sample_sd = float(np.std(paired_base, ddof=1)) if n_sd >= 2 else float("nan")
        r_file = inst.reliability.value
        if rules.reliability_source == "instrument" and inst.reference_sd.value is not None:
            sd, sd_source = float(inst.reference_sd.value), f"instrument file ({inst.reference_sd.source or 'reference SD'})"
        else:
            sd, sd_source = sample_sd, f"sample: SD of {n_sd} paired baselines"
        r, r_source = (float(r_file) if r_file is not None else float("nan")), \
            f"instrument file ({inst.reliability.source or 'reliability'})"
        if rules.sample_reliability:
            alpha, n_alpha = _sample_alpha(inst, sub, scored_measures)
            if n_alpha >= rules.min_alpha_n and np.isfinite(alpha) and 0 <= alpha < 1:
                r, r_source = alpha, f"sample: Cronbach's alpha of {n_alpha} complete baseline item sets"
            else:
                r_source += f"; fewer than {rules.min_alpha_n} complete baseline item sets for a sample alpha"
        ok = np.isfinite(r) and 0 <= r < 1 and np.isfinite(sd) and sd > 0
        jt = float(reliable_change_threshold(r, sd, rules.rci_z)) if ok else float("nan")
        s_diff = jt / rules.rci_z if ok else float("nan")
        pub = inst.reliable_change.value
        if rules.use_published_threshold and pub is not None:
            # a threshold the instrument file worked out itself (status "derived") is not called published
            kind = "derived in the instrument file" if inst.reliable_change.status == "derived" else "published"
            rc, rc_src = abs(float(pub)), f"{kind} ({inst.reliable_change.source or 'instrument file'})"
        else:
            rc, rc_src = jt, f"computed Jacobson-Truax RCI (z = {rules.rci_z:g})"
        mc = inst.meaningful_change.value
        rows.append({
            "instrument": code, "higher_is_better": inst.higher_is_better,
            "reliability_used": r, "reliability_source": r_source, "sd_used": sd, "sd_source": sd_source,
            "n_sd": n_sd, "s_diff": s_diff, "jt_threshold": jt,
            "published_threshold": np.nan if pub is None else abs(float(pub)),
            "rc_threshold": rc, "rc_threshold_source": rc_src,
            "meaningful_change_threshold": abs(float(mc)) if (mc is not None and inst.role == "wellbeing") else np.nan,
            "cutoff": _cutoff_text(inst),
        })
    out = pd.DataFrame(rows, columns=["instrument", "higher_is_better", "reliability_used", "reliability_source",
                                      "sd_used", "sd_source", "n_sd", "s_diff", "jt_threshold",
                                      "published_threshold", "rc_threshold", "rc_threshold_source",
                                      "meaningful_change_threshold", "cutoff"])
    for c in ("instrument", "reliability_source", "sd_source", "rc_threshold_source", "cutoff"):
        out[c] = out[c].astype("string")
    out.attrs["rules"] = rules.describe()
    return out


def episode_change(
    episodes: pd.DataFrame,
    *,
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    scored_measures: pd.DataFrame | None = None,
    parameters: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Add raw change, reliable change and clinical-significance columns to episodes.

    Parameters
    ----------
    episodes
        Output of :func:`evalkit.episodes.build_episodes`.
    rules
        The :class:`~evalkit.rules.PairingRules` (reliability source, z,
        published thresholds); defaults to ``PairingRules()``.
    instruments
        Instrument registry (default: built-in).
    scored_measures
        Only for ``rules.reliability_source == "sample"`` (sample alpha).
    parameters
        :func:`instrument_parameters` of the same ``episodes``, ``rules``, ``instruments`` and
        ``scored_measures``, when the caller has it already (it is then not worked out again); default:
        worked out here.

    Returns
    -------
    pandas.DataFrame
        The episodes with :data:`CHANGE_COLUMNS` added (values missing for
        unpaired episodes, except ``caseness_baseline`` which is set whenever
        there is a baseline):

        * ``change`` = endpoint - baseline; ``improvement`` = change signed so
          that positive is better;
        * ``reliability_used``, ``reliability_source``, ``sd_used``,
          ``sd_source``, ``s_diff`` = ``sqrt(2) * SD * sqrt(1 - r)``,
          ``rci`` = ``change / s_diff`` (Jacobson & Truax 1991, p. 14);
        * ``jt_threshold`` = ``z * s_diff``; ``jt_reliable_improvement`` /
          ``jt_reliable_deterioration``: ``|rci| > z`` in the better / worse
          direction (computed RCI, whatever the instrument publishes);
        * ``rc_threshold``, ``rc_threshold_source`` and the headline
          ``reliable_improvement`` / ``reliable_deterioration`` /
          ``no_reliable_change``: published threshold (``|change| >=
          threshold``) where there is one and ``rules.use_published_threshold``,
          otherwise the computed RCI;
        * ``cutoff`` (the instrument's default cut-off, as text),
          ``caseness_baseline``, ``caseness_endpoint`` (nullable booleans;
          missing without a cut-off);
        * ``cs_category``: ``recovered`` (reliable improvement and from
          caseness to not), ``improved`` (other reliable improvement),
          ``unchanged``, ``deteriorated`` (reliable deterioration otherwise),
          ``harmed`` (reliable deterioration from not-caseness to caseness);
          without a cut-off only improved / unchanged / deteriorated occur;
        * ``meaningful_change_threshold``, ``meaningful_improvement``,
          ``meaningful_deterioration``: the scale authors' 'meaningful change'
          for wellbeing measures (WEMWBS 3, SWEMWBS 1.03), ``|change| >=``
          it; missing for other instruments.

        ``attrs["instrument_parameters"]`` is not set (use
        :func:`instrument_parameters` for the table of parameters).

    Notes
    -----
    Caseness follows the instrument file's default cut-off
    (:meth:`evalkit.instruments.Cutoff.applies`), e.g. EPDS ``>= 13``, PHQ-9
    ``>= 10``, GAD-7 ``>= 8``, WEMWBS ``<= 40``; 'recovered' needs reliable
    improvement *and* leaving caseness, as in Jacobson & Truax's
    classification and NHS Talking Therapies' 'reliable recovery'.

    The published-threshold comparison uses ``>=`` because the sources state
    thresholds as 'a change of at least' (NHS Talking Therapies: a fall of 6
    or more on the PHQ-9; Matthey 2004: 4 or more on the EPDS); the computed
    RCI uses ``>`` as Jacobson & Truax do.

    Validated by hand-worked examples in ``tests/test_outcomes_change.py`` and
    by the property that swapping baseline and endpoint turns every reliable
    improvement into a reliable deterioration.

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: a statistical
    approach to defining meaningful change in psychotherapy research. *J
    Consult Clin Psychol*, 59(1), 12-19.
    Matthey, S. (2004). Calculating clinically significant change in
    postnatal depression studies using the EPDS. *J Affect Disord*, 78, 269-272.
    """
    rules = PairingRules() if rules is None else rules
    registry = builtin_instruments() if instruments is None else instruments
    from evalkit.stats import jacobson_truax

    params = instrument_parameters(episodes, rules=rules, instruments=registry, scored_measures=scored_measures) \
        if parameters is None else parameters
    out = episodes.copy(deep=False)  # copy-on-write: the new columns never reach the caller's frame
    n = len(out)
    f = {c: np.full(n, np.nan) for c in ("change", "improvement", "reliability_used", "sd_used", "s_diff", "rci",
                                         "jt_threshold", "rc_threshold", "meaningful_change_threshold")}
    # texts as integer codes (-1 = missing): into the few distinct texts of each column (each set for whole
    # instruments), and into CS_CATEGORIES; no Python string per row
    txt_cols = ("reliability_source", "sd_source", "rc_threshold_source", "cutoff")
    txt = {c: np.full(n, -1, dtype=np.int64) for c in (*txt_cols, "cs_category")}
    txt_values: dict[str, list[str]] = {c: [] for c in txt_cols}
    cs = {c: CS_CATEGORIES.index(c) for c in CS_CATEGORIES}
    b = {c: pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool)) for c in (
        "jt_reliable_improvement", "jt_reliable_deterioration", "reliable_improvement", "reliable_deterioration",
        "no_reliable_change", "caseness_baseline", "caseness_endpoint", "meaningful_improvement",
        "meaningful_deterioration")}
    # each row's instrument as an integer position into its distinct codes (not a Python string per row)
    inst_pos, inst_codes = pd.factorize(out["instrument"])
    inst_at = {str(c): i for i, c in enumerate(inst_codes)}
    paired_all = out["paired"].to_numpy(dtype=bool)
    pre_all = out["baseline_score"].to_numpy(dtype=float)
    post_all = out["endpoint_score"].to_numpy(dtype=float)
    for prow in params.itertuples(index=False):
        code = prow.instrument
        inst = registry[code]
        rows = np.flatnonzero(inst_pos == inst_at[code]) if code in inst_at else np.zeros(0, dtype=np.int64)
        pr = rows[paired_all[rows]]
        pre, post = pre_all[pr], post_all[pr]
        sign = 1.0 if inst.higher_is_better else -1.0
        change = post - pre
        improvement = sign * change
        f["change"][pr] = change
        f["improvement"][pr] = improvement
        for c in ("reliability_used", "sd_used", "s_diff", "jt_threshold", "rc_threshold",
                  "meaningful_change_threshold"):
            f[c][rows] = getattr(prow, c)
        for c in txt_cols:
            val = getattr(prow, c)
            if pd.isna(val) or not len(rows):
                txt[c][rows] = -1
            else:
                if str(val) not in txt_values[c]:
                    txt_values[c].append(str(val))
                txt[c][rows] = txt_values[c].index(str(val))
        if np.isfinite(prow.s_diff) and len(pr):
            jt = jacobson_truax(pre, post, reliability=float(prow.reliability_used), sd=float(prow.sd_used),
                                higher_is_better=bool(inst.higher_is_better), z=float(rules.rci_z))
            f["rci"][pr] = jt["rci"].to_numpy(dtype=float)
            jt_imp = jt["reliable_improvement"].to_numpy(dtype=bool, na_value=False)
            jt_det = jt["reliable_deterioration"].to_numpy(dtype=bool, na_value=False)
            b["jt_reliable_improvement"][pr] = jt_imp
            b["jt_reliable_deterioration"][pr] = jt_det
        else:
            jt_imp = jt_det = None
        published = np.isfinite(prow.published_threshold) and rules.use_published_threshold
        if published:
            thr = float(prow.rc_threshold)
            imp = improvement >= thr - _EPS
            det = improvement <= -thr + _EPS
        elif jt_imp is not None:
            imp, det = jt_imp, jt_det
        else:
            imp = det = None
        cb = _caseness(inst, pre_all[rows])
        b["caseness_baseline"][rows] = cb
        ce = _caseness(inst, post)
        b["caseness_endpoint"][pr] = ce
        if imp is not None:
            b["reliable_improvement"][pr] = imp
            b["reliable_deterioration"][pr] = det
            b["no_reliable_change"][pr] = ~imp & ~det
            if inst.default_cutoff is not None:
                case_pre = _caseness(inst, pre).to_numpy(dtype=bool, na_value=False)
                case_post = ce.to_numpy(dtype=bool, na_value=False)
                cat = np.select([imp & case_pre & ~case_post, imp, det & ~case_pre & case_post, det],
                                [cs["recovered"], cs["improved"], cs["harmed"], cs["deteriorated"]],
                                default=cs["unchanged"])
            else:
                cat = np.select([imp, det], [cs["improved"], cs["deteriorated"]], default=cs["unchanged"])
            txt["cs_category"][pr] = cat
        mthr = prow.meaningful_change_threshold
        if np.isfinite(mthr):
            b["meaningful_improvement"][pr] = improvement >= mthr - _EPS
            b["meaningful_deterioration"][pr] = improvement <= -mthr + _EPS
    for c in CHANGE_COLUMNS:
        if c in f:
            out[c] = f[c]
        elif c in txt:
            if c == "cs_category":
                out[c] = pd.Categorical.from_codes(txt[c], categories=list(CS_CATEGORIES), ordered=True)
            else:
                cats = sorted(txt_values[c])  # the texts that occur, in order
                to_sorted = np.array([*(cats.index(v) for v in txt_values[c]), -1], dtype=np.int64)  # -1 stays -1
                out[c] = pd.Categorical.from_codes(to_sorted[txt[c]], categories=cats)
        else:
            out[c] = b[c]
    # keep the rules column last
    if "rules" in out.columns and out.columns[-1] != "rules":
        out = out[[c for c in out.columns if c != "rules"] + ["rules"]]
    out.attrs = dict(episodes.attrs)
    out.attrs["rules"] = rules.describe()
    return out
