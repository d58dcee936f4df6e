"""Small layout helpers shared by the pages: headers, explained metrics, tables with downloads, guarded sections."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import data, glossary
from evalkit.errors import AccessDenied, EvalkitError

_log = logging.getLogger("evalkit.dashboard")
INTERNAL_ERROR = "internal error in evalkit"


def header(page: str, title: str) -> None:
    """The page title and its one-paragraph introduction."""
    st.title(title)
    intro = glossary.PAGE_INTROS.get(page)
    if intro:
        st.markdown(intro)


def explain(term: str) -> None:
    """The one-line explanation of a term, as a caption."""
    text = glossary.explain(term)
    if text:
        st.caption(f"**{glossary.label(term)}**: {text}")


def fmt(value: Any, digits: int = 1) -> str:
    """A number for people: thousands separators, fixed decimals, '[c]' for hidden, '-' for missing."""
    if _missing(value):
        return "[c]"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()  # numpy scalars
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and digits == 0):
        return f"{int(value):,}"
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def metric(label: str, value: Any, *, term: str | None = None, n: Any = None, ci: tuple[Any, Any] | None = None,
           digits: int = 1, unit: str = "", of: Any = None, explain: bool = True) -> None:
    """A library figure as a metric, with its interval, its n and the glossary's one-line explanation.

    ``value``, ``ci`` and ``n`` are shown as the library returned them (rounded
    for display only); a missing value is a hidden small number and shows as [c].
    """
    shown = fmt(value, digits)
    if shown != "[c]" and unit:
        shown += unit
    parts = []
    if ci is not None:
        lo, hi = ci
        if not _missing(lo) and not _missing(hi):
            parts.append(f"95% CI {fmt(lo, digits)} to {fmt(hi, digits)}{unit}")
    if n is not None:
        parts.append(f"n = {fmt(n, 0)}" + (f" of {fmt(of, 0)}" if of is not None else ""))
    explanation = glossary.explain(term) if term else ""
    st.metric(label, shown, help=explanation or None)
    if parts:
        st.caption(" · ".join(parts))
    if explanation and explain:
        st.caption(explanation)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A library table as people read it: hidden (suppressed) cells shown as [c]."""
    if "suppressed" in frame.columns:
        with contextlib.suppress(Exception):
            from evalkit.disclosure import mark_suppressed

            return mark_suppressed(frame)
    return frame


def table(frame: pd.DataFrame, *, key: str, name: str | None = None, downloads: bool = True,
          height: int | str = "auto", column_config: dict[str, Any] | None = None) -> None:
    """A dataframe, with CSV and XLSX downloads of exactly what is shown."""
    shown = readable(frame)
    help_cfg: dict[str, Any] = {c: st.column_config.Column(help=h)
                                for c, h in glossary.explain_columns(list(shown.columns)).items()}
    for c in shown.columns:  # dates as dates (the library keeps them as midnight timestamps)
        if pd.api.types.is_datetime64_any_dtype(shown[c].dtype) and not isinstance(shown[c].dtype, pd.DatetimeTZDtype):
            help_cfg[c] = st.column_config.DateColumn(format="D MMM YYYY", help=glossary.explain(str(c)) or None)
    help_cfg.update(column_config or {})
    st.dataframe(shown, hide_index=True, key=key, height=height, column_config=help_cfg or None)
    if downloads and len(shown.columns):
        downloads_row(shown, key=key, name=name or key)


def downloads_row(frame: pd.DataFrame, *, key: str, name: str) -> None:
    """CSV and XLSX download buttons for a table (the file is made when the button is clicked, not on every run)."""
    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button("CSV", lambda: data.frame_bytes(frame, "csv"), file_name=f"{name}.csv", mime="text/csv",
                       key=f"{key}_csv", icon=":material/download:", on_click="ignore")
    c2.download_button("Excel", lambda: data.frame_bytes(frame, "xlsx", sheet=name), file_name=f"{name}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key=f"{key}_xlsx", icon=":material/download:", on_click="ignore")


def chart(figure: Any, numbers: pd.DataFrame, *, key: str, name: str | None = None,
          caption: str | None = None) -> None:
    """An Altair chart with the numbers it shows in an expander beneath (never a chart without its numbers)."""
    fixed = isinstance(getattr(figure, "width", None), int)
    st.altair_chart(figure, key=f"{key}_chart", width="content" if fixed else "stretch")
    if caption:
        st.caption(caption)
    with st.expander("The numbers in this chart", expanded=False):
        table(numbers, key=f"{key}_numbers", name=name or key)


@contextlib.contextmanager
def section(what: str) -> Iterator[None]:
    """Run a page section; a missing library function, denied access or a data problem becomes a message."""
    try:
        yield
    except data.LibraryMissing as exc:
        st.info(f"**{what}** is coming: it needs `{exc.name}` from the evalkit library, which this installation "
                f"does not have yet.{' (' + exc.detail + ')' if exc.detail else ''}", icon=":material/construction:")
    except NotImplementedError:
        st.info(f"**{what}** is coming: the evalkit library function it needs is not finished yet.",
                icon=":material/construction:")
    except AccessDenied as exc:
        st.warning(f"**{what}**: {exc}", icon=":material/lock:")
    except (EvalkitError, ValueError) as exc:
        st.error(f"**{what}** could not be shown: {exc}", icon=":material/error:")
    except Exception as exc:  # noqa: BLE001 - a library bug must not take the whole page down
        _log.exception("dashboard section %r failed", what)
        st.error(f"**{what}** could not be shown because of an internal error in evalkit "
                 f"({type(exc).__name__}: {exc}). The rest of the page is unaffected; please report this.",
                 icon=":material/bug_report:")


def rules_note(ctx: data.Context) -> None:
    """The pairing rules behind the figures, in words (collapsed)."""
    with st.expander("Rules behind these figures"):
        st.markdown("\n".join(f"- {line}" for line in ctx.rules.describe().splitlines()))


def empty_note(what: str) -> None:
    st.info(f"No {what} for the programmes and dates chosen. Upload data on the Upload page, or widen the "
            "filters in the sidebar.", icon=":material/info:")
