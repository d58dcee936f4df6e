"""Small layout helpers shared by the pages: headers, explained metrics, tables with downloads, guarded sections."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboards import data, glossary
from evalkit.disclosure import NOT_COMPUTED_MARKER, SUPPRESSED_MARKER, hidden_columns
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


class _Hidden:
    """A figure disclosure control hid (see :func:`cell`); shown as [c]."""

    def __repr__(self) -> str:
        return "HIDDEN"


HIDDEN: Any = _Hidden()
"""What :func:`cell` gives for a hidden figure: :func:`fmt` and :func:`metric` show it as [c]."""


def cell(row: Any, column: str) -> Any:
    """``row[column]`` of a library table, or :data:`HIDDEN` when disclosure control hid it.

    Hidden cells are those named in the row's ``suppressed`` column
    (:func:`evalkit.disclosure.hidden_columns`); any other missing value was not
    computed, and :func:`fmt` shows it as a dash, never as [c].
    """
    if column in hidden_columns(row):
        return HIDDEN
    return row.get(column)


def fmt(value: Any, digits: int = 1) -> str:
    """A number for people: thousands separators, fixed decimals.

    [c] (:data:`evalkit.disclosure.SUPPRESSED_MARKER`) only for a hidden
    figure (:data:`HIDDEN`, from :func:`cell`); a dash
    (:data:`evalkit.disclosure.NOT_COMPUTED_MARKER`) for one that is missing
    because it could not be computed.
    """
    if value is HIDDEN:
        return SUPPRESSED_MARKER
    if is_missing(value):
        return NOT_COMPUTED_MARKER
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
           digits: int = 1, unit: str = "", of: Any = None, explain: bool = True, why: str = "") -> None:
    """A library figure as a metric, with its interval, its n and the glossary's one-line explanation.

    ``value``, ``ci`` and ``n`` are shown as the library returned them (rounded
    for display only). Pass them through :func:`cell` so that a hidden small
    number shows as [c]; any other missing value was not computed and shows as
    a dash, with ``why`` (e.g. "no paired mothers") as the reason.
    """
    shown = fmt(value, digits)
    missing = value is not HIDDEN and is_missing(value)
    if unit and value is not HIDDEN and not missing:
        shown += unit
    parts = []
    if missing:
        parts.append(f"not computed{': ' + why if why else ''}")
    if ci is not None:
        lo, hi = ci
        if all(v is not HIDDEN and not is_missing(v) for v in (lo, hi)):  # a hidden or missing bound: no interval
            parts.append(f"95% CI {fmt(lo, digits)} to {fmt(hi, digits)}{unit}")
    if n is not None:
        parts.append(f"n = {fmt(n, 0)}" + (f" of {fmt(of, 0)}" if of is not None else ""))
    explanation = glossary.explain(term) if term else ""
    st.metric(label, shown, help=explanation or None)
    if parts:
        st.caption(" · ".join(parts))
    if explanation and explain:
        st.caption(explanation)


def is_zero(value: Any) -> bool:
    """Whether a count the library returned is a true (published) zero, not hidden or missing."""
    return value is not HIDDEN and not is_missing(value) and value == 0


def is_missing(value: Any) -> bool:
    """Whether a library value is missing (``None``, ``pd.NA`` or NaN): not computed, unless :func:`cell` said hidden."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def content_key(*parts: Any) -> str | None:
    """A digest of everything a drawing depends on: frames by their full contents, other values by ``repr``.

    Frames are hashed whole (:func:`pandas.util.hash_pandas_object` of every
    row, with the index, column names, dtypes and ``attrs``), never sampled.
    ``None`` when a frame holds values pandas cannot hash (then nothing is
    cached).
    """
    h = hashlib.blake2b(digest_size=20)

    def add(part: Any) -> None:
        if isinstance(part, pd.DataFrame | pd.Series):
            frame = part.to_frame() if isinstance(part, pd.Series) else part
            h.update(repr((type(part).__name__, frame.shape, list(frame.columns), [str(d) for d in frame.dtypes],
                           sorted(frame.attrs.items(), key=lambda kv: str(kv[0])))).encode())
            h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        elif isinstance(part, dict):
            h.update(b"{")
            for k in sorted(part, key=str):
                h.update(repr(k).encode())
                add(part[k])
            h.update(b"}")
        elif isinstance(part, list | tuple):
            h.update(b"[" if isinstance(part, list) else b"(")
            for item in part:
                add(item)
            h.update(b"]")
        else:
            h.update(repr((type(part).__name__, part)).encode())
        h.update(b"|")

    try:
        add(parts)
    except TypeError:  # unhashable cells (lists, dicts): draw without the cache
        return None
    return h.hexdigest()


@st.cache_resource(show_spinner=False, max_entries=256, ttl=3600)
def _drawn(key: str, _make: Callable[[], Any]) -> Any:
    """What ``_make`` returns, kept per content key (figures and display tables are the same for the same
    numbers; computed once, not on every rerun). Bounded in number, and each entry is dropped an hour after
    it was made (made again when next shown), so figures of a replaced data version do not stay."""
    return _make()


def _memo(make: Callable[[], Any], *parts: Any) -> Any:
    key = content_key(*parts)
    return make() if key is None else _drawn(key, make)


def kept(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """``make()``, kept under ``key``, which must name everything the result depends on.

    For results of the shared outcome data, :func:`dashboards.data.result_key`
    (database, data version, scope, filters, rules) plus what the page chose.
    """
    return _memo(make, "kept", key)


def figure(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``build(*args, **kwargs)`` (an :mod:`evalkit.charts` function), kept for the same numbers and options.

    A rerun that shows the same figures (a widget elsewhere changed, a page
    revisited) reuses the Altair chart instead of building it again.
    """
    return _memo(lambda: build(*args, **kwargs), f"{build.__module__}.{build.__qualname__}", args, kwargs)


def _display_rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns rounded for reading: two decimals, or three significant digits below 0.1 (p-values,
    small variances), so 3.9326923076923075 reads 3.93 and 0.000412 reads 0.000412.

    The table is assembled once from its columns (the others as they are), not changed a column at a time: the
    outcome summary has some sixty float columns, and each column taken out of the frame or put back into it
    copied the frame's ``attrs`` or its blocks. Columns are taken by position, so a column name that repeats is
    rounded in each of its columns.
    """
    if not any(pd.api.types.is_float_dtype(d) for d in frame.dtypes):
        return frame
    bare = frame.copy(deep=False)
    bare.attrs = {}  # not deep-copied into every column taken out below
    # each column as a Series of its own dtype (from arrays, pandas would infer text dtypes for object columns)
    columns = {i: pd.Series(_rounded(column), index=frame.index, copy=False)
               if pd.api.types.is_float_dtype(column.dtype) else column
               for i, (_, column) in enumerate(bare.items())}
    out = pd.DataFrame(columns, index=frame.index, copy=False)
    out.columns = frame.columns
    out.attrs = dict(frame.attrs)
    return out


def _rounded(column: pd.Series) -> Any:
    """One float column rounded for reading (:func:`_display_rounded`), in its own dtype."""
    v = column.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = np.where(np.abs(v) < 0.1, 2 - np.floor(np.log10(np.abs(v))), 2)
        scale = 10.0 ** np.nan_to_num(digits, nan=2.0, posinf=2.0, neginf=2.0)
        rounded = np.where(np.isfinite(v) & (v != 0), np.round(v * scale) / scale, v)
    return pd.array(rounded, dtype=column.dtype) if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) \
        else rounded


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A library table as people read it: hidden (suppressed) cells shown as [c], figures rounded for reading
    (:func:`_display_rounded`; the library and the CLI keep every digit)."""
    shown = _memo(lambda: _readable(frame), "readable", frame)
    out = shown.copy(deep=False)  # copy-on-write: the kept table never changes
    out.attrs = dict(shown.attrs)
    return out


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    rounded = _display_rounded(frame)
    if "suppressed" in frame.columns:
        with contextlib.suppress(Exception):
            from evalkit.disclosure import mark_suppressed

            return mark_suppressed(rounded)
    return rounded


@dataclass(frozen=True)
class Shown:
    """A library table made ready for the screen once (:func:`shown`): what :func:`table` draws, and the
    column settings it draws it with.

    A page keeps these with its figures (:func:`kept`), so that a rerun draws the table without converting
    or hashing it again.
    """

    frame: pd.DataFrame
    """The table as people read it (:func:`readable`); never changed."""
    columns: dict[str, Any]
    """Streamlit column settings by column: the glossary's help texts, dates shown as dates."""


def shown(frame: pd.DataFrame) -> Shown:
    """``frame`` made ready for :func:`table` (and :func:`chart`'s numbers): the same table, the same settings,
    made once where it is kept (:func:`kept`) rather than on every rerun."""
    ready = _readable(frame).copy(deep=False)
    ready.attrs = dict(ready.attrs)
    return Shown(ready, _column_settings(ready))


def shown_parts(frame: pd.DataFrame, parts: Mapping[Any, Any], *, whole: Shown | None = None) -> dict[Any, Shown]:
    """Several row selections of one library table, each made ready as :func:`shown` makes it, with one
    conversion of the whole table.

    ``parts`` maps a name to a boolean mask over ``frame``'s rows; each part is the rows selected, in order,
    with a fresh index (as :func:`dashboards.sections.rows_for` selects them). ``whole``: ``shown(frame)``
    when already made (kept), so that several pages share one conversion. Rounding and marking hidden
    cells work cell by cell, so the rows of the whole table made readable are those of the part made
    readable; text made of dates is not (pandas writes a column of midnights without the time), so a table
    with date or time columns is converted part by part.
    """
    if any(pd.api.types.is_datetime64_any_dtype(d) or pd.api.types.is_timedelta64_dtype(d)
           or isinstance(d, pd.PeriodDtype) for d in frame.dtypes):
        return {name: shown(frame[np.asarray(mask, dtype=bool)].reset_index(drop=True))
                for name, mask in parts.items()}
    whole = shown(frame) if whole is None else whole
    out = {}
    for name, mask in parts.items():
        rows = whole.frame[np.asarray(mask, dtype=bool)].reset_index(drop=True)
        rows.attrs = dict(whole.frame.attrs)
        out[name] = Shown(rows, whole.columns)
    return out


def shown_columns(frame: pd.DataFrame, columns: list[str], *, whole: Shown) -> Shown:
    """``shown(frame[columns])``, cut from ``whole`` (``shown(frame)``) instead of converted again.

    Cells are made readable one by one, so the columns of the whole table made readable are those of the
    narrower table made readable, as long as both carry the ``suppressed`` column that marks hidden cells
    (when ``frame`` has one and ``columns`` leave it out, the narrower table is converted on its own).
    """
    if "suppressed" in frame.columns and "suppressed" not in columns:
        return shown(frame[columns])
    part = whole.frame[[c for c in columns if c in whole.frame.columns]]
    part.attrs = dict(whole.frame.attrs)
    return Shown(part, _column_settings(part))


def _column_settings(frame: pd.DataFrame) -> dict[str, Any]:
    """The glossary's help text of each column, and dates as dates (the library keeps them as midnight
    timestamps)."""
    settings: dict[str, Any] = {c: st.column_config.Column(help=h)
                                for c, h in glossary.explain_columns(list(frame.columns)).items()}
    for c, dtype in frame.dtypes.items():
        if pd.api.types.is_datetime64_any_dtype(dtype) and not isinstance(dtype, pd.DatetimeTZDtype):
            settings[c] = st.column_config.DateColumn(format="D MMM YYYY", help=glossary.explain(str(c)) or None)
    return settings


def table(frame: pd.DataFrame | Shown, *, key: str, name: str | None = None, downloads: bool = True,
          height: int | str = "auto", column_config: dict[str, Any] | None = None) -> None:
    """A dataframe, with CSV and XLSX downloads of exactly what is shown.

    ``frame`` is a library table, or one made ready once with :func:`shown`.
    """
    if isinstance(frame, Shown):
        display = frame.frame.copy(deep=False)  # copy-on-write: the kept table never changes
        display.attrs = dict(frame.frame.attrs)
        settings = {c: dict(v) if isinstance(v, dict) else v for c, v in frame.columns.items()}
    else:
        display = readable(frame)
        settings = _column_settings(display)
    settings.update(column_config or {})
    st.dataframe(display, hide_index=True, key=key, height=height, column_config=settings or None)
    if downloads and len(display.columns):
        downloads_row(display, key=key, name=name or key)


def downloads_row(frame: pd.DataFrame | Callable[[], pd.DataFrame], *, key: str, name: str) -> None:
    """CSV and XLSX download buttons for a table (the file is made when the button is clicked, not on every run).

    ``frame``: the table, or a call that makes it (then it too is made only when a button is clicked).
    """
    table_of: Callable[[], pd.DataFrame] = frame if callable(frame) else lambda: frame
    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button("CSV", lambda: data.frame_bytes(table_of(), "csv"), file_name=f"{name}.csv",
                       mime="text/csv", key=f"{key}_csv", icon=":material/download:", on_click="ignore")
    c2.download_button("Excel", lambda: data.frame_bytes(table_of(), "xlsx", sheet=name), file_name=f"{name}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key=f"{key}_xlsx", icon=":material/download:", on_click="ignore")


PAGE_ROWS = 500
"""Rows a page of :func:`paged_table` shows."""


def paged_table(frame: pd.DataFrame, *, key: str, name: str, rows: np.ndarray | None = None,
                page_rows: int | None = None, order: str | None = None) -> None:
    """A long table shown a page at a time, with CSV and XLSX downloads of every row.

    ``rows``: the positions (``iloc``) of ``frame``'s rows to show, in order (default every row), so that a part
    of a shared table is shown without copying the whole part on every run. A table of at most ``page_rows``
    rows is :func:`table` itself (no pager). A longer one gets a page selector naming each page's rows in words
    ("rows 501-1,000 of 640,123"), and only the chosen page is drawn: the browser is sent ``page_rows`` rows,
    not the whole table, on each run. The downloads hold every row, as people read them (:func:`readable`),
    made only when a button is clicked. ``page_rows``: default :data:`PAGE_ROWS`. ``order``: how the rows are
    ordered, said under the pager.
    """
    page_rows = PAGE_ROWS if page_rows is None else page_rows
    positions = np.arange(len(frame)) if rows is None else np.asarray(rows, dtype=np.intp)
    n = len(positions)
    if n <= page_rows:
        table(frame if rows is None else frame.iloc[positions], key=key, name=name)
        return
    pages = -(-n // page_rows)

    def span(page: int) -> tuple[int, int]:
        return page * page_rows, min((page + 1) * page_rows, n)

    def words(page: int) -> str:
        first, last = span(page)
        return f"rows {first + 1:,}-{last:,} of {n:,}"

    page = st.selectbox(f"Page ({pages:,} pages of {page_rows:,} rows)", range(pages), key=f"{key}_page",
                        format_func=words)
    page = min(int(page or 0), pages - 1)
    first, last = span(page)
    table(frame.iloc[positions[first:last]], key=key, name=name, downloads=False)
    st.caption(f"The table shows one page, {words(page)}{'; ' + order if order else ''}. The CSV and Excel "
               f"downloads hold all {n:,} rows.")
    downloads_row(lambda: _readable(frame.iloc[positions]), key=key, name=name)


_SPECS: dict[int, tuple[weakref.ref, dict[str, Any]]] = {}
"""Vega-Lite specs of the Altair charts drawn, by ``id`` of the chart (Altair charts cannot be hashed); each
entry is dropped when its chart is freed."""
_ALTAIR_SETTINGS = threading.Lock()
"""Altair's theme and data transformer are settings of the whole process: one conversion at a time."""


def vega_lite_spec(figure: Any) -> dict[str, Any]:
    """The Vega-Lite spec of an Altair chart, made once per chart.

    ``st.altair_chart`` turns a chart into a spec on every rerun, and Altair checks each spec against the
    Vega-Lite JSON schema as it does: about two thirds of the time a cached page spent drawing its charts
    (the Wellbeing page, under a profiler).
    Charts kept by :func:`figure` are the same object on every rerun, so their spec is kept with them and
    drawn with ``st.vega_lite_chart``. The conversion is the one ``st.altair_chart`` makes (Altair's theme
    off, so Streamlit's applies; each data frame a named dataset, no row limit, sent as Arrow), without the
    schema check: a chart's structure comes from the :mod:`evalkit.charts` builder, not from the data, and
    the tests check every chart each page draws against the schema
    (``tests/dashboard/test_chart_spec.py``).

    Returns
    -------
    dict
        The spec, its data under ``datasets`` as data frames by name; the caller must not change it.
    """
    entry = _SPECS.get(id(figure))
    if entry is not None and entry[0]() is figure:
        return entry[1]
    import altair as alt

    datasets: dict[str, Any] = {}

    def named(values: Any) -> dict[str, str]:  # an Altair data transformer: the frame kept, named by content
        digest = content_key(values)
        name = f"data-{digest or id(values)}"
        datasets[name] = values
        return {"name": name}

    with _ALTAIR_SETTINGS:
        alt.data_transformers.register("evalkit_named", named)
        themes = getattr(alt, "theme", None) or alt.themes  # alt.themes before Altair 5.5 (pyproject: altair>=5)
        theme = themes.enable("none") if themes.active == "default" else contextlib.nullcontext()
        with theme, alt.data_transformers.enable("evalkit_named"):
            spec = figure.to_dict(validate=False)
    spec["datasets"] = {**(spec.get("datasets") or {}), **datasets}
    key = id(figure)
    with contextlib.suppress(TypeError):  # a chart that cannot be weakly referenced is converted each time
        _SPECS[key] = (weakref.ref(figure, lambda _, key=key: _SPECS.pop(key, None)), spec)
    return spec


def chart(figure: Any, numbers: pd.DataFrame | Shown, *, key: str, name: str | None = None,
          caption: str | None = None) -> None:
    """An Altair chart with the numbers it shows in an expander beneath (never a chart without its numbers)."""
    fixed = isinstance(getattr(figure, "width", None), int)
    spec = vega_lite_spec(figure)
    # Streamlit copies the spec's top level before changing it; the datasets' dict is copied here
    st.vega_lite_chart(spec={**spec, "datasets": dict(spec["datasets"])}, key=f"{key}_chart",
                       width="content" if fixed else "stretch")
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


def storing(text: str, work: Callable[[Callable[[float, str], None]], None]) -> None:
    """Run an upload's storing step under a progress bar; rerun the page when it landed, else say what happened.

    ``work`` gets a ``progress(fraction, message)`` callback (fraction 0-1). An
    upload refused whole (provider conflict, identifiers, the database refused)
    becomes an error panel, never an exception.
    """
    bar = st.progress(0.0, text=text)
    refused = None
    try:
        work(lambda x, msg: bar.progress(min(max(x, 0.0), 1.0), text=msg))
    except (EvalkitError, ValueError) as exc:
        refused = f"Nothing was stored: {exc}"
    finally:
        bar.empty()
    if refused is None:
        st.rerun()
    st.error(refused, icon=":material/block:")
