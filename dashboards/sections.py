"""Page sections shared by several pages (instrument choice, outcome tables and charts).

Layout only: each section calls one evalkit function through :mod:`dashboards.data`
and draws what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import data, ui
from evalkit import charts

EPISODE_SHOWN = (
    "programme_id", "participant_id", "instrument", "baseline_date", "baseline_score", "endpoint_date",
    "endpoint_score", "days_between", "dose", "change", "rc_threshold", "reliable_improvement",
    "reliable_deterioration", "caseness_baseline", "caseness_endpoint", "cs_category",
)


def episode_columns(frame: pd.DataFrame) -> list[str]:
    """The episode columns worth showing beside a chart (those present)."""
    return [c for c in EPISODE_SHOWN if c in frame.columns]


def pick_instrument(ctx: data.Context, *, roles: Iterable[str], key: str, label: str = "Questionnaire"
                    ) -> str | None:
    """A questionnaire choice among the change measures of the given roles (and the sidebar filter)."""
    options = data.instrument_options(roles)
    if ctx.filters.instruments:
        options = {c: n for c, n in options.items() if c in ctx.filters.instruments}
    if not options:
        st.info("No questionnaire of this kind is selected in the sidebar.")
        return None
    return st.selectbox(label, list(options), key=key, format_func=lambda c: f"{c.upper()} - {options[c]}")


def first_value(frame: pd.DataFrame, column: str) -> Any:
    """The first non-missing value of a column the library filled (e.g. the instrument's threshold)."""
    if column not in frame.columns:
        return None
    values = frame[column].dropna()
    return None if values.empty else float(values.iloc[0])


def paired_episodes(ctx: data.Context, code: str) -> pd.DataFrame:
    """Paired episodes of one instrument with their change columns (individual level)."""
    ep = data.episode_changes(ctx)
    return ep[(ep["instrument"] == code) & ep["paired"].fillna(False).astype(bool)].reset_index(drop=True)


def rows_for(frame: pd.DataFrame | None, **equal: Any) -> pd.DataFrame:
    """Rows of a library table matching the given column values (columns absent are ignored)."""
    if frame is None:
        return pd.DataFrame()
    keep = pd.Series(True, index=frame.index)
    for col, value in equal.items():
        if col in frame.columns and value is not None:
            keep &= frame[col] == value
    return frame[keep].reset_index(drop=True)


def outcome_sections(ctx: data.Context, code: str, *, prefix: str) -> None:
    """Categories, mean change with the three estimates, trajectories and the dose-threshold curve."""
    with ui.section("Change categories and mean change"):
        st.subheader("How many improved, and by how much")
        summary = data.as_frame(data.analysis(ctx, "evalkit.outcomes.outcome_summary"))
        rows = rows_for(summary, instrument=code)
        if rows.empty:
            ui.empty_note(f"{code.upper()} outcomes")
        else:
            ui.table(rows, key=f"{prefix}_summary", name=f"{code}-outcomes")
        ui.explain("mean_change")
        ui.explain("ci")

    with ui.section("Completers, mixed model and imputation"):
        st.subheader("Three ways to estimate the change")
        est = data.as_frame(data.analysis(ctx, "evalkit.outcomes.change_estimates"))
        rows = rows_for(est, instrument=code)
        if rows.empty:
            ui.empty_note(f"{code.upper()} estimates")
        else:
            fig = charts.estimate_chart(rows, label="method", colour="programme_id" if "programme_id" in rows else None,
                                        n="n" if "n" in rows else None, x_title="Mean change (95% CI)")
            ui.chart(fig, rows, key=f"{prefix}_estimates", name=f"{code}-estimates")
        for term in ("completers", "mixed_model", "multiple_imputation"):
            ui.explain(term)

    with ui.section("Trajectories"):
        st.subheader("Scores week by week")
        traj = data.as_frame(data.analysis(ctx, "evalkit.outcomes.trajectories"))
        rows = rows_for(traj, instrument=code)
        if rows.empty:
            ui.empty_note(f"{code.upper()} trajectories")
        else:
            fig = charts.trajectory_chart(rows, colour="programme_id" if "programme_id" in rows else None)
            ui.chart(fig, rows, key=f"{prefix}_trajectory", name=f"{code}-trajectories")
        ui.explain("trajectory")

    with ui.section("Dose threshold"):
        st.subheader("More support, more change?")
        dose = data.as_frame(data.analysis(ctx, "evalkit.outcomes.dose_thresholds"))
        rows = rows_for(dose, instrument=code)
        if rows.empty:
            ui.empty_note(f"{code.upper()} dose thresholds")
        else:
            fig = charts.dose_threshold_chart(rows, colour="programme_id" if "programme_id" in rows else None)
            ui.chart(fig, rows, key=f"{prefix}_dose", name=f"{code}-dose-thresholds")
        ui.explain("dose_threshold")
