"""Page sections shared by several pages (instrument choice, change plots, outcome tables).

Layout only: every number comes from :func:`evalkit.outcomes.evaluate_outcomes`
(through :func:`dashboards.data.outcomes`) or another evalkit function; the
helpers here select rows and rename or stack columns for drawing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboards import data, state, ui
from evalkit import charts
from evalkit.change_methods import change_by_method
from evalkit.disclosure import carried_hidden, hidden_masks

EPISODE_SHOWN = (
    "programme_id", "participant_id", "instrument", "baseline_date", "baseline_score", "endpoint_date",
    "endpoint_score", "days_between", "dose", "change", "rc_threshold", "reliable_improvement",
    "reliable_deterioration", "caseness_baseline", "caseness_endpoint", "cs_category",
)

CHANGE_COLUMNS = ("programme_id", "n_engaged", "n_paired", "completeness", "completeness_ci_low",
                  "completeness_ci_high", "baseline_mean", "endpoint_mean", "mean_change", "ci_low", "ci_high",
                  "d_z", "d_z_ci_low", "d_z_ci_high", "suppressed")

CATEGORIES = (  # (label, stem of the summary's n_/pct_ columns, glossary term)
    ("reliably improved", "reliable_improvement", "reliable_improvement"),
    ("no reliable change", "no_reliable_change", "no_reliable_change"),
    ("reliably deteriorated", "reliable_deterioration", "reliable_deterioration"),
    ("reliably recovered (of those above the cut-off)", "reliable_recovery", "recovered"),
    ("meaningful improvement", "meaningful_improvement", "meaningful_improvement"),
)

RECOVERY_WORDS = {
    "both": "recovered from symptoms and better within",
    "recovered_from": "recovered from symptoms only",
    "recovery_within": "recovery within (symptoms still above cut-off)",
    "neither": "neither",
    "reliably_worse": "reliably worse on a measure",
}
"""Plain words for :data:`evalkit.recovery.RECOVERY_CATEGORIES` (labels only)."""

def episode_columns(frame: pd.DataFrame) -> list[str]:
    """The episode columns worth showing beside a chart (those present)."""
    return [c for c in EPISODE_SHOWN if c in frame.columns]


def pick_instrument(ctx: data.Context, *, roles: Iterable[str], key: str, label: str = "Questionnaire"
                    ) -> str | None:
    """A questionnaire choice: change measures of the given roles that have outcomes in the user's data.

    The sidebar's questionnaire filter narrows the list; EPDS (or the first) is the default.
    """
    options = data.instrument_options(roles)
    try:
        with_data = set(data.outcomes(ctx).summary["instrument"].astype(str))
        options = {c: n for c, n in options.items() if c in with_data}
    except Exception:  # noqa: BLE001 - without outcomes the page sections explain why; offer every instrument
        pass
    if ctx.filters.instruments:
        options = {c: n for c, n in options.items() if c in ctx.filters.instruments}
    if not options:
        st.info("No questionnaire of this kind has outcomes for the programmes, dates and questionnaires chosen.")
        return None
    codes = list(options)
    default = next((codes.index(c) for c in ("epds", "wemwbs", "swemwbs") if c in codes), 0)
    return st.selectbox(label, codes, index=default, key=key, format_func=lambda c: f"{c.upper()} - {options[c]}")


def first_value(frame: pd.DataFrame, column: str) -> Any:
    """The first non-missing value of a column the library filled (e.g. the instrument's threshold)."""
    if column not in frame.columns:
        return None
    values = frame[column].dropna()
    return None if values.empty else float(values.iloc[0])


def rows_for(frame: pd.DataFrame | None, **equal: Any) -> pd.DataFrame:
    """Rows of a library table matching the given column values (columns absent are ignored)."""
    if frame is None:
        return pd.DataFrame()
    return frame[row_mask(frame, **equal)].reset_index(drop=True)


def row_mask(frame: pd.DataFrame, **equal: Any) -> np.ndarray:
    """Which rows :func:`rows_for` selects, as a boolean array."""
    keep = pd.Series(True, index=frame.index)
    for col, value in equal.items():
        if col in frame.columns and value is not None:
            keep &= (frame[col].astype("string") == str(value)).fillna(False)
    return keep.to_numpy(dtype=bool)


def summary_shown(ctx: data.Context, summary: pd.DataFrame) -> ui.Shown:
    """The outcome summary (``data.outcomes(ctx).summary``) made readable once per outcome result: the pages
    that show its rows (Overview, Symptom change, Wellbeing, Report) cut them from this one conversion."""
    return ui.kept(("outcome summary, readable", data.result_key(ctx)), lambda: ui.shown(summary))


def present(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c in frame.columns]


def stack_categories(rows: pd.DataFrame) -> pd.DataFrame:
    """The summary's category columns (n, %, Wilson CI) as one row per programme x category, for drawing."""
    parts = []
    drawn = [(label, stem) for label, stem, _ in CATEGORIES if f"pct_{stem}" in rows.columns]
    # the rows' suppressed names read once for every category's n and percent
    masks = hidden_masks(rows, [c for _, stem in drawn for c in (f"n_{stem}", f"pct_{stem}")])
    for label, stem in drawn:
        part = pd.DataFrame({
            "programme_id": rows["programme_id"].astype(str),
            "category": label,
            "n": rows[f"n_{stem}"],
            "percent": rows[f"pct_{stem}"],
            "ci_low": rows[f"pct_{stem}_ci_low"],
            "ci_high": rows[f"pct_{stem}_ci_high"],
            "suppressed": carried_hidden(rows, {"n": f"n_{stem}", "percent": f"pct_{stem}"}, masks=masks),
        })
        # a category hidden for every programme is still drawn ([c]); one never computed is left out
        if part["n"].notna().any() or part["percent"].notna().any() or (part["suppressed"] != "").any():
            parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _jacobson(changes: pd.DataFrame, code: str) -> tuple[ui.Shown | None, Any]:
    """One instrument's paired episodes (the columns shown) and their Jacobson plot (``None`` when there are
    none)."""
    inst = data.instrument(code)
    keep = (changes["instrument"] == code) & changes["paired"].astype("boolean").fillna(False)
    # only the columns shown beneath the plot (they hold those it draws): the other episode columns are not copied
    paired = changes.loc[keep, episode_columns(changes)].reset_index(drop=True)
    if paired.empty:
        return None, None
    cutoff = inst.default_cutoff.value if inst.default_cutoff else None
    fig = charts.jacobson_plot(paired, threshold=first_value(paired, "rc_threshold"), cutoff=cutoff,
                               score_range=inst.score_range, higher_is_better=inst.higher_is_better,
                               tooltip=["programme_id"])
    return ui.shown(paired), fig


def jacobson(ctx: data.Context, code: str, *, prefix: str) -> None:
    """The Jacobson plot of one instrument's paired episodes, with the episode rows beneath."""
    with ui.section("Each mother's change (Jacobson plot)"):
        st.subheader("Each mother's change")
        changes = data.episode_changes(ctx)
        paired, fig = ui.kept(("jacobson", data.result_key(ctx), code), lambda: _jacobson(changes, code))
        if fig is None:
            ui.empty_note(f"paired {code.upper()} scores")
            return
        ui.chart(fig, paired, key=f"{prefix}_jacobson", name=f"{code}-paired-episodes")
        ui.explain("jacobson")


# What each section of :func:`outcome_sections` draws, made once per outcome result and questionnaire
# (ui.kept): a rerun draws the kept charts and tables without selecting, stacking or converting again.

def _categories(summary: pd.DataFrame, code: str) -> dict[str, Any] | None:
    rows = rows_for(summary, instrument=code)
    if rows.empty:
        return None
    cats = stack_categories(rows)
    drawn = None
    if not cats.empty:
        drawn = (charts.estimate_chart(cats, label="category", estimate="percent", colour="programme_id", n="n",
                                       reference=None, x_title="Percent of mothers (95% CI)"), ui.shown(cats))
    source = rows["rc_threshold_source"].dropna().astype(str).iloc[0] \
        if "rc_threshold_source" in rows and rows["rc_threshold_source"].notna().any() else ""
    return {"drawn": drawn, "threshold": first_value(rows, "rc_threshold"), "source": source}


def _mean_change(summary: pd.DataFrame, code: str, whole: ui.Shown) -> dict[str, Any] | None:
    rows = rows_for(summary, instrument=code)
    if rows.empty:
        return None
    every = ui.shown_parts(summary, {code: row_mask(summary, instrument=code)}, whole=whole)[code]
    return {"figure": charts.estimate_chart(rows, label="programme_id", estimate="mean_change", n="n_paired",
                                            x_title="Mean change in score points (95% CI)"),
            "numbers": ui.shown_columns(rows, present(rows, CHANGE_COLUMNS), whole=every), "all": every}


def _dose(dose: pd.DataFrame, code: str) -> tuple[Any, ui.Shown] | None:
    rows = rows_for(dose, instrument=code)
    if rows.empty:
        return None
    return charts.dose_threshold_chart(rows, estimate="mean_change", colour="programme_id"), ui.shown(rows)


def _trajectories(traj: pd.DataFrame | None, code: str) -> tuple[Any, ui.Shown] | None:
    rows = rows_for(traj, instrument=code)
    if rows.empty:
        return None
    return (charts.trajectory_chart(rows, colour="programme_id" if "programme_id" in rows else None),
            ui.shown(rows))


def _methods(models: pd.DataFrame, code: str) -> dict[str, Any] | None:
    rows = rows_for(models, instrument=code)
    methods = change_by_method(rows) if not rows.empty else pd.DataFrame()
    if methods.empty:
        return None
    notes = rows[present(rows, ("programme_id", "mm_converged", "mm_note", "mi_note"))]
    return {"figure": charts.estimate_chart(methods, label="programme_id", colour="method", n="n",
                                            x_title="Mean change in score points (95% CI)"),
            "numbers": ui.shown(methods), "notes": ui.shown(notes) if len(notes.columns) > 1 else None}


def outcome_sections(ctx: data.Context, code: str, *, prefix: str) -> None:
    """Categories, mean change, dose threshold, trajectories, then the slower model estimates."""
    res = None
    with ui.section("Change categories"):
        st.subheader("How many changed reliably")
        res = data.outcomes(ctx)
        key = data.result_key(ctx)
        cats = ui.kept(("change categories", key, code), lambda: _categories(res.summary, code))
        if cats is None:
            ui.empty_note(f"{code.upper()} outcomes")
        else:
            if cats["drawn"] is not None:
                fig, numbers = cats["drawn"]
                ui.chart(fig, numbers, key=f"{prefix}_categories", name=f"{code}-categories")
            if cats["threshold"] is not None:
                st.caption(f"Reliable change on the {code.upper()}: a change of at least "
                           f"{ui.fmt(cats['threshold'], 2)} points ({cats['source']}).")
        for _, _, term in CATEGORIES[:4]:
            ui.explain(term)

    with ui.section("Mean change"):
        st.subheader("Mean change, with its confidence interval")
        if res is not None:
            whole = summary_shown(ctx, res.summary)
            mean = ui.kept(("mean change", key, code), lambda: _mean_change(res.summary, code, whole))
            if mean is not None:
                ui.chart(mean["figure"], mean["numbers"], key=f"{prefix}_mean_change", name=f"{code}-mean-change")
                with st.expander("Every outcome figure for this questionnaire"):
                    ui.table(mean["all"], key=f"{prefix}_summary", name=f"{code}-outcome-summary")
        ui.explain("mean_change")
        ui.explain("ci")
        ui.explain("completeness")

    with ui.section("Dose threshold"):
        st.subheader("More support, more change?")
        if res is not None:
            dose = ui.kept(("dose threshold", key, code), lambda: _dose(res.dose_sensitivity, code))
            if dose is None:
                ui.empty_note(f"{code.upper()} dose figures")
            else:
                ui.chart(*dose, key=f"{prefix}_dose", name=f"{code}-dose-thresholds")
        ui.explain("dose_threshold")

    with ui.section("Trajectories"):
        st.subheader("Scores week by week")
        traj = data.trajectories(ctx)
        drawn = ui.kept(("trajectories", data.result_key(ctx), code), lambda: _trajectories(traj, code))
        if drawn is None:
            ui.empty_note(f"{code.upper()} trajectories")
        else:
            ui.chart(*drawn, key=f"{prefix}_trajectory", name=f"{code}-trajectories")
        ui.explain("trajectory")

    with ui.section("Completers, mixed model and imputation"):
        st.subheader("Three ways to estimate the change")
        for term in ("completers", "mixed_model", "multiple_imputation"):
            ui.explain(term)
        if st.toggle("Show the mixed-model and imputation estimates (the first time takes up to a minute)",
                     value=True, key=state.MODELS, persist_state="session"):
            models = data.outcome_models(ctx, code)
            drawn = ui.kept(("three estimates", data.result_key(ctx), code), lambda: _methods(models, code))
            if drawn is None:
                ui.empty_note(f"{code.upper()} estimates")
            else:
                ui.chart(drawn["figure"], drawn["numbers"], key=f"{prefix}_methods", name=f"{code}-three-estimates")
                if drawn["notes"] is not None:
                    with st.expander("Model notes"):
                        ui.table(drawn["notes"], key=f"{prefix}_model_notes", name=f"{code}-model-notes")


def take_up_metrics(rates: pd.DataFrame | None, programme_id: str, *, explain: bool = True) -> None:
    """Referrals and take-up of one programme from :func:`evalkit.engagement.take_up_rate`."""
    if rates is None:
        st.markdown("**Referrals and take-up**")
        st.caption(f"Coming: needs `{data.TAKE_UP}` and `{data.FUNNEL_TABLES}` from the evalkit library.")
        return
    rows = rows_for(rates, programme_id=programme_id)
    if rows.empty:
        ui.metric("Referrals", 0, term="referrals", digits=0, explain=explain)
        return
    r = rows.iloc[0]
    ui.metric("Referrals", ui.cell(r, "n_referred"), term="referrals", digits=0, explain=explain)
    ui.metric("Take-up", ui.cell(r, "pct_took_up"), unit="%", digits=0,
              ci=(ui.cell(r, "pct_took_up_ci_low"), ui.cell(r, "pct_took_up_ci_high")), n=ui.cell(r, "n_took_up"),
              of=ui.cell(r, "n_referred"), term="take_up", explain=explain,
              why="no referrals" if ui.is_zero(r["n_referred"]) else "")


def stack_columns(frame: pd.DataFrame, columns: Sequence[tuple[str, str]], *, label: str, value: str,
                  keep: Sequence[str] = ()) -> pd.DataFrame:
    """Several count columns of a library table as rows (``label``, ``value``) for drawing; no arithmetic.

    When the table has a ``suppressed`` column, each row's names ``value`` where disclosure control hid the
    count it came from (so the chart shows [c] there, and a dash for a count that was not computed).
    """
    parts = []
    for name, col in columns:
        if col in frame.columns:
            part = frame[list(keep)].copy() if keep else pd.DataFrame(index=frame.index)
            part[label] = name
            part[value] = frame[col].to_numpy()
            if "suppressed" in frame.columns:
                part["suppressed"] = carried_hidden(frame, {value: col})
            parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
