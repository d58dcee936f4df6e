"""Altair chart builders for evalkit results (dashboard, HTML report, notebooks).

Every builder takes a tidy frame that an evalkit function returned (data first,
then keyword-only column roles with the names evalkit uses) and returns an
:class:`altair.Chart` (or a layered/concatenated chart). The builders draw;
they compute nothing beyond what drawing needs (axis extents, the lines of a
reliable-change band). Every chart carries tooltips with the numbers it shows,
and callers are expected to show the same frame as a table beside it.

Colours come from the Okabe-Ito palette (Okabe & Ito 2008), which stays
distinguishable under the common colour-vision deficiencies; categories that
matter also get distinct shapes so that colour is never the only cue.

Importing this module imports Altair (not Streamlit); ``import evalkit`` does
not import it.

References
----------
Okabe, M. & Ito, K. (2008). *Color Universal Design (CUD): how to make figures
and presentations that are friendly to colorblind people.* https://jfly.uni-koeln.de/color/
Jacobson, N. S. & Truax, P. (1991). Clinical significance: a statistical
approach to defining meaningful change in psychotherapy research. *Journal of
Consulting and Clinical Psychology*, 59(1), 12-19.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
from altair.utils.schemapi import debug_mode

from evalkit.disclosure import NOT_COMPUTED_MARKER, SUPPRESSED_MARKER, hidden_mask

__all__ = [
    "CATEGORY_COLOURS",
    "OKABE_ITO",
    "bar_chart",
    "category_chart",
    "distribution_chart",
    "dose_threshold_chart",
    "estimate_chart",
    "forest_plot",
    "funnel_chart",
    "funnel_plot",
    "jacobson_plot",
    "palette",
    "trajectory_chart",
]

OKABE_ITO: tuple[str, ...] = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow (use last: low contrast on white)
    "#000000",  # black
)
"""The Okabe-Ito colour-blind-safe palette, ordered for use on a white background."""

GREY = "#8C8C8C"

CATEGORY_COLOURS: Mapping[str, str] = {
    "recovered": "#009E73",
    "improved": "#56B4E9",
    "unchanged": GREY,
    "deteriorated": "#E69F00",
    "harmed": "#D55E00",
}
"""Colours of the clinical-significance categories (best first), from the Okabe-Ito palette."""

_CATEGORY_SHAPES: Mapping[str, str] = {
    "recovered": "circle",
    "improved": "triangle-up",
    "unchanged": "square",
    "deteriorated": "triangle-down",
    "harmed": "cross",
}

_CATEGORY_LABELS: Mapping[str, str] = {
    "recovered": "reliably recovered",
    "improved": "reliably improved",
    "unchanged": "no reliable change",
    "deteriorated": "reliably deteriorated",
    "harmed": "deteriorated into caseness",
}

_HIDDEN_TEXT = f"{SUPPRESSED_MARKER} hidden (small numbers)"
_NOT_ESTIMABLE_TEXT = f"{NOT_COMPUTED_MARKER} not estimable"

_FONT = "Source Sans Pro, Helvetica, Arial, sans-serif"


_BUILDING = threading.RLock()
"""Altair's check of each object as it is made is a setting of the whole process: one builder at a time sets it."""


@contextlib.contextmanager
def _unchecked() -> Iterator[None]:
    """Altair's check of each object as it is made (its debug mode), off for the ``with`` block, then as it was.

    With the check on, Altair turns every channel, scale and axis a builder makes into a dict and validates it
    against the Vega-Lite schema as it is made: about a third of what building the Symptom change page's charts
    took (10k participants, 2026-11-28). A builder's objects come from its own code, not from the data; the
    whole chart is checked against the schema where it is converted with validation (``to_dict()``, the HTML
    report), and the tests check every builder's chart (``tests/dashboard/test_charts.py``). One block at a time
    in the process (the dashboard builds charts in several threads); the same thread may nest. The builders
    use it as a decorator (``@_unchecked()``: :class:`contextlib.ContextDecorator`, a fresh block per call).
    """
    with _BUILDING, debug_mode(False):
        yield


def _layer(*layers: alt.Chart) -> alt.LayerChart:
    """``alt.layer(*layers)``, with the data every layer shares given to the layered chart itself.

    The same chart and spec as ``alt.layer``, which moves data all layers share to the top itself, but first
    hashes each layer's JSON with the data frame written out as text (``DataFrame.__repr__``) to name views
    that carry selections (these charts have none), a third of what layering took. The layers are the
    builder's own, made for this call.
    """
    shared = layers[0].data if layers else alt.Undefined
    if (shared is alt.Undefined or not isinstance(shared, pd.DataFrame)
            or any(layer.data is not shared for layer in layers)):
        return alt.layer(*layers)
    for layer in layers:
        layer.data = alt.Undefined
    return alt.LayerChart(data=shared, layer=list(layers))


def _channel(kind: type, spec: Any) -> Any:
    """An encoding channel built as its Altair class: ``_channel(alt.X2, "ci_high:Q")``, ``_channel(alt.ColorValue,
    "#0072B2")``.

    The same channel as the shorthand string or ``alt.value(...)`` Altair accepts, and the same spec; given
    those, Altair looks the class up by hashing the schema of every class it has (a few milliseconds each time,
    about half of what building a chart took).
    """
    return kind(spec)


def palette(n: int) -> list[str]:
    """The first ``n`` colours of :data:`OKABE_ITO` (cycled when ``n`` is larger)."""
    if n < 0:
        raise ValueError(f"n must be >= 0; got {n}")
    return [OKABE_ITO[i % len(OKABE_ITO)] for i in range(n)]


def _check(frame: pd.DataFrame, columns: Sequence[str | None], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what}: data must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: columns {missing} are not in the data (it has {list(frame.columns)})")


def _plain(frame: pd.DataFrame, columns: Sequence[str | None]) -> pd.DataFrame:
    """The named columns, with pandas' nullable types turned into plain ones Vega-Lite can read."""
    cols = list(dict.fromkeys(c for c in columns if c is not None))
    out = frame.loc[:, cols].copy()
    for c in cols:
        s = out[c]
        if isinstance(s.dtype, pd.BooleanDtype):
            out[c] = s.astype(object).where(s.notna(), None)
        elif pd.api.types.is_extension_array_dtype(s.dtype) and pd.api.types.is_numeric_dtype(s.dtype):
            out[c] = s.astype("float64")
        elif pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_object_dtype(s.dtype):
            out[c] = s.astype(object).where(s.notna(), None)
        elif isinstance(s.dtype, pd.CategoricalDtype):
            out[c] = s.astype(object).where(s.notna(), None)
    return out.reset_index(drop=True)


def _label_position(data: pd.DataFrame, column: str) -> pd.Series:
    """Where each value's label is drawn: at the value, or at zero when it is missing (so [c] and the dash of a
    missing bar are seen)."""
    return pd.to_numeric(data[column], errors="coerce").astype("float64").fillna(0.0)


def _value_labels(frame: pd.DataFrame, column: str, number_format: str) -> list[str]:
    """The label of each row's ``column`` value: the number in ``number_format``; :data:`SUPPRESSED_MARKER`
    ([c]) where disclosure control hid it (named in the row's ``suppressed`` column); otherwise, when missing,
    :data:`NOT_COMPUTED_MARKER` (not computed or not estimable: never [c])."""
    values = pd.to_numeric(pd.Series(frame[column].to_numpy(dtype=object)), errors="coerce").astype("float64")
    text = values.map(lambda v: format(v, number_format), na_action="ignore")
    labels = np.where(hidden_mask(frame, column), SUPPRESSED_MARKER, NOT_COMPUTED_MARKER)
    return text.where(values.notna(), pd.Series(labels)).tolist()


def _finish(chart: alt.TopLevelMixin, title: str | None, width: int | str, height: int) -> alt.TopLevelMixin:
    """The builder's chart with its size, title and fonts: set on ``chart`` itself, which each builder made for
    this call (``chart.properties`` would copy it, and a layered chart copies every layer again)."""
    finished = chart
    finished.width = width
    finished.height = height
    if title:
        finished.title = title
    axis = {"labelFont": _FONT, "titleFont": _FONT}
    legend = {"labelFont": _FONT, "titleFont": _FONT, "orient": "bottom"}
    title_config = {"font": _FONT, "anchor": "start"}
    if finished.config is not alt.Undefined:  # a configuration of its own: added to, as configure_* do
        return finished.configure_axis(**axis).configure_legend(**legend).configure_title(**title_config)
    # the whole configuration set at once: configure_axis, configure_legend and configure_title would each copy
    # the chart again (most of the time this function took)
    finished.config = alt.Config(axis=alt.AxisConfig(**axis), legend=alt.LegendConfig(**legend),
                                 title=alt.TitleConfig(**title_config))
    return finished


def _colour(field: str | None, values: Sequence[Any] | None, title: str | None = None) -> Any:
    if field is None:
        return _channel(alt.ColorValue, OKABE_ITO[3])
    domain = list(dict.fromkeys(v for v in (values or []) if v is not None))
    return alt.Color(f"{field}:N", title=title or field, scale=alt.Scale(domain=domain, range=palette(len(domain))))


# --------------------------------------------------------------------------- Jacobson plot


@_unchecked()
def jacobson_plot(
    episodes: pd.DataFrame,
    *,
    baseline: str = "baseline_score",
    endpoint: str = "endpoint_score",
    category: str | None = "cs_category",
    threshold: float | None = None,
    cutoff: float | None = None,
    score_range: tuple[float, float] | None = None,
    higher_is_better: bool = False,
    tooltip: Sequence[str] = (),
    title: str | None = None,
    width: int | str = 560,
    height: int = 540,
) -> alt.LayerChart:
    """Baseline against endpoint for paired episodes, with the no-change line and the reliable-change band.

    Parameters
    ----------
    episodes
        One row per paired episode (e.g. :func:`evalkit.change.episode_change`
        output filtered to ``paired``).
    baseline, endpoint
        Score columns (x and y).
    category
        Column of clinical-significance categories (colour and shape), or None.
    threshold
        Reliable-change threshold in score points: a shaded band ``|endpoint -
        baseline| < threshold`` around the diagonal marks 'no reliable change'.
    cutoff
        Caseness cut-off, drawn as a dashed line on both axes.
    score_range
        Axis extent (default: the data's range, padded).
    higher_is_better
        Only used in the axis titles ('better' direction).
    tooltip
        Extra columns for the point tooltips.

    Returns
    -------
    altair.LayerChart
    """
    _check(episodes, [baseline, endpoint, category, *tooltip], "jacobson_plot")
    data = _plain(episodes, [baseline, endpoint, category, *tooltip])
    data = data[data[baseline].notna() & data[endpoint].notna()]
    if score_range is not None:
        lo, hi = float(score_range[0]), float(score_range[1])
    elif len(data):
        lo = float(min(data[baseline].min(), data[endpoint].min()))
        hi = float(max(data[baseline].max(), data[endpoint].max()))
        pad = max((hi - lo) * 0.05, 1.0)
        lo, hi = lo - pad, hi + pad
    else:
        lo, hi = 0.0, 1.0
    scale = alt.Scale(domain=[lo, hi], nice=False, zero=False)
    better = "higher" if higher_is_better else "lower"
    # every layer carries the axis titles (with title=None on the band, diagonal and cut-off layers the layered
    # chart was drawn with no axis titles at all)
    x_title, y_title = f"Score at baseline ({better} is better)", f"Score at endpoint ({better} is better)"
    x = alt.X(f"{baseline}:Q", title=x_title, scale=scale)
    y = alt.Y(f"{endpoint}:Q", title=y_title, scale=scale)
    layers: list[alt.Chart] = []
    if threshold is not None and np.isfinite(threshold) and threshold > 0:
        ends = np.array([lo, hi])  # the band's frame made at once (a column added at a time copied it each time)
        band = pd.DataFrame({"x": ends, "lower": np.clip(ends - float(threshold), lo, hi),
                             "upper": np.clip(ends + float(threshold), lo, hi),
                             "what": f"no reliable change (less than {threshold:g} points)"})
        layers.append(
            alt.Chart(band).mark_area(opacity=0.18, color=GREY).encode(
                x=alt.X("x:Q", scale=scale, title=x_title), y=alt.Y("lower:Q", scale=scale, title=y_title),
                y2=_channel(alt.Y2, "upper:Q"), tooltip=[alt.Tooltip("what:N", title="band")],
            )
        )
    diagonal = pd.DataFrame({"x": [lo, hi], "y": [lo, hi]})
    layers.append(alt.Chart(diagonal).mark_line(color="#555555", strokeWidth=1).encode(
        x=alt.X("x:Q", scale=scale, title=x_title), y=alt.Y("y:Q", scale=scale, title=y_title)))
    if cutoff is not None and np.isfinite(cutoff):
        cut = pd.DataFrame({"value": [float(cutoff)], "what": [f"cut-off {cutoff:g}"]})
        layers.append(alt.Chart(cut).mark_rule(color=OKABE_ITO[4], strokeDash=[6, 4]).encode(
            x=alt.X("value:Q", scale=scale, title=x_title), tooltip=[_channel(alt.Tooltip, "what:N")]))
        layers.append(alt.Chart(cut).mark_rule(color=OKABE_ITO[4], strokeDash=[6, 4]).encode(
            y=alt.Y("value:Q", scale=scale, title=y_title), tooltip=[_channel(alt.Tooltip, "what:N")]))
    tips = [alt.Tooltip(f"{baseline}:Q", title="baseline"), alt.Tooltip(f"{endpoint}:Q", title="endpoint")]
    tips += [alt.Tooltip(f"{c}:N" if c == category else c) for c in ([category] if category else []) + list(tooltip)]
    point = alt.Chart(data).mark_point(filled=True, size=45, opacity=0.75)
    if category is not None:
        drawn = set(data[category].dropna())  # the categories drawn, read once
        present = [c for c in CATEGORY_COLOURS if c in drawn]
        present += sorted(drawn - set(present))
        colours = [CATEGORY_COLOURS.get(c, GREY) for c in present]
        shapes = [_CATEGORY_SHAPES.get(c, "diamond") for c in present]
        point = point.encode(
            x=x, y=y,
            color=alt.Color(f"{category}:N", title="Category", scale=alt.Scale(domain=present, range=colours)),
            shape=alt.Shape(f"{category}:N", title="Category", scale=alt.Scale(domain=present, range=shapes)),
            tooltip=tips,
        )
    else:
        point = point.encode(x=x, y=y, color=_channel(alt.ColorValue, OKABE_ITO[3]), tooltip=tips)
    layers.append(point)
    return _finish(_layer(*layers), title, width, height)


# --------------------------------------------------------------------------- bars and estimates


@_unchecked()
def category_chart(
    frame: pd.DataFrame,
    *,
    category: str = "category",
    count: str = "n",
    group: str | None = None,
    title: str | None = None,
    width: int | str = "container",
    height: int = 220,
) -> alt.Chart:
    """Horizontal bars of counts per clinical-significance (or any) category, best first.

    A missing count is drawn as no bar, labelled ``[c]`` when disclosure control hid it (the frame's
    ``suppressed`` column names it in that row) and ``–`` otherwise (not computed).
    """
    _check(frame, [category, count, group], "category_chart")
    data = _plain(frame, [category, count, group])
    drawn = set(data[category].dropna())  # the categories drawn, read once
    order = [c for c in CATEGORY_COLOURS if c in drawn]
    order += [c for c in dict.fromkeys(data[category].dropna()) if c not in order]
    data["_text"] = _value_labels(frame, count, "g")
    data["_at"] = _label_position(data, count)
    colours = [CATEGORY_COLOURS.get(c, OKABE_ITO[i % len(OKABE_ITO)]) for i, c in enumerate(order)]
    y = alt.Y(f"{category}:N", sort=order, title=None)
    enc: dict[str, Any] = {
        "y": y,
        "x": alt.X(f"{count}:Q", title="Number of mothers"),
        "color": alt.Color(f"{category}:N", scale=alt.Scale(domain=order, range=colours), legend=None),
        "tooltip": [alt.Tooltip(f"{category}:N"), alt.Tooltip("_text:N", title=count)],
    }
    if group is not None:
        enc["row"] = alt.Row(f"{group}:N", title=None)
    bars = alt.Chart(data).mark_bar().encode(**{k: v for k, v in enc.items() if k != "row"})
    text = alt.Chart(data).mark_text(align="left", dx=3).encode(y=y, x=alt.X("_at:Q"),
                                                                text=_channel(alt.Text, "_text:N"))
    chart = _layer(bars, text)
    if group is not None:
        chart = chart.facet(row=alt.Row(f"{group}:N", title=None))
        return chart.properties(title=title or "").configure_title(font=_FONT, anchor="start")
    return _finish(chart, title, width, height)


@_unchecked()
def bar_chart(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    colour: str | None = None,
    horizontal: bool = False,
    sort: Sequence[Any] | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    title: str | None = None,
    width: int | str = "container",
    height: int = 260,
) -> alt.Chart:
    """Bars of a value per category (counts, percentages).

    A missing value is labelled ``[c]`` when disclosure control hid it (the frame's ``suppressed`` column
    names it in that row) and ``–`` otherwise (not computed).
    """
    _check(frame, [x, y, colour], "bar_chart")
    data = _plain(frame, [x, y, colour])
    data["_text"] = _value_labels(frame, y, ",.4g")
    data["_at"] = _label_position(data, y)
    cat = alt.X(f"{x}:N", title=x_title if x_title is not None else x, sort=list(sort) if sort else None)
    val = alt.Y(f"{y}:Q", title=y_title if y_title is not None else y)
    if horizontal:
        cat = alt.Y(f"{x}:N", title=x_title if x_title is not None else x, sort=list(sort) if sort else None,
                    axis=alt.Axis(labelLimit=420, labelOverlap=False))
        val = alt.X(f"{y}:Q", title=y_title if y_title is not None else y)
    enc: dict[str, Any] = {"x": val, "y": cat} if horizontal else {"x": cat, "y": val}
    values = list(dict.fromkeys(data[colour].dropna())) if colour else None
    enc["color"] = _colour(colour, values) if colour else _channel(alt.ColorValue, OKABE_ITO[3])
    tips = [alt.Tooltip(f"{x}:N"), alt.Tooltip("_text:N", title=y)] + ([alt.Tooltip(f"{colour}:N")] if colour else [])
    bars = alt.Chart(data).mark_bar().encode(**enc, tooltip=tips)
    offset: dict[str, Any] = {}
    if colour and not horizontal:  # grouped bars side by side (horizontal ones take a category each)
        offset = {"xOffset": alt.XOffset(f"{colour}:N")}
        bars = bars.encode(**offset)
    at = alt.X("_at:Q") if horizontal else alt.Y("_at:Q")
    if horizontal:
        text = alt.Chart(data).mark_text(align="left", dx=3).encode(y=cat, x=at, text=_channel(alt.Text, "_text:N"),
                                                                    **offset)
    else:
        text = alt.Chart(data).mark_text(baseline="bottom", dy=-2).encode(x=cat, y=at,
                                                                          text=_channel(alt.Text, "_text:N"), **offset)
    return _finish(_layer(bars, text), title, width, height)


@_unchecked()
def distribution_chart(
    frame: pd.DataFrame,
    *,
    value: str,
    count: str = "n",
    colour: str | None = None,
    x_title: str | None = None,
    title: str | None = None,
    width: int | str = "container",
    height: int = 240,
) -> alt.Chart:
    """A distribution already tabulated by the library (one row per value with its count), as bars.

    A missing count is labelled ``[c]`` when disclosure control hid it (the frame's ``suppressed`` column
    names it in that row) and ``–`` otherwise (not computed).
    """
    _check(frame, [value, count, colour], "distribution_chart")
    data = _plain(frame, [value, count, colour])
    data["_text"] = _value_labels(frame, count, "g")
    data["_at"] = _label_position(data, count)
    kind = "O" if not pd.api.types.is_numeric_dtype(data[value]) or data[value].nunique() <= 40 else "Q"
    enc: dict[str, Any] = {
        "x": alt.X(f"{value}:{kind}", title=x_title or value, axis=alt.Axis(labelAngle=0)),
        "y": alt.Y(f"{count}:Q", title="Number of mothers"),
        "tooltip": [alt.Tooltip(f"{value}:{kind}"), alt.Tooltip("_text:N", title=count)],
    }
    offset: dict[str, Any] = {}
    if colour:
        enc["color"] = _colour(colour, list(dict.fromkeys(data[colour].dropna())))
        offset = {"xOffset": alt.XOffset(f"{colour}:N")}
    else:
        enc["color"] = _channel(alt.ColorValue, OKABE_ITO[1])
    bars = alt.Chart(data).mark_bar().encode(**enc, **offset)
    text = alt.Chart(data).mark_text(baseline="bottom", dy=-2).encode(
        x=enc["x"], y=alt.Y("_at:Q"), text=_channel(alt.Text, "_text:N"), **offset)
    return _finish(_layer(bars, text), title, width, height)


@_unchecked()
def estimate_chart(
    frame: pd.DataFrame,
    *,
    label: str,
    estimate: str = "estimate",
    lower: str = "ci_low",
    upper: str = "ci_high",
    colour: str | None = None,
    n: str | None = None,
    reference: float | None = 0.0,
    x_title: str = "Estimate (with confidence interval)",
    sort: Sequence[Any] | None = None,
    title: str | None = None,
    width: int | str = "container",
    height: int | None = None,
) -> alt.LayerChart:
    """Point estimates with confidence-interval bars, one row per label (methods, groups, programmes).

    Rows whose estimate is missing are listed with a text instead of a point, so a hidden figure is
    visibly hidden rather than silently absent: ``[c] hidden (small numbers)`` when disclosure control hid it
    (the frame's ``suppressed`` column names the estimate in that row), ``– not estimable`` otherwise.
    """
    _check(frame, [label, estimate, lower, upper, colour, n], "estimate_chart")
    data = _plain(frame, [label, estimate, lower, upper, colour, n])
    data[label] = data[label].astype(str)
    data["shown"] = np.where(data[estimate].isna(),
                             np.where(hidden_mask(frame, estimate), _HIDDEN_TEXT, _NOT_ESTIMABLE_TEXT), "")
    order = list(sort) if sort is not None else list(dict.fromkeys(data[label]))
    y = alt.Y(f"{label}:N", sort=order, title=None, axis=alt.Axis(labelLimit=320, labelOverlap=False))
    tips = [alt.Tooltip(f"{label}:N"), alt.Tooltip(f"{estimate}:Q", format=".2f"),
            alt.Tooltip(f"{lower}:Q", format=".2f"), alt.Tooltip(f"{upper}:Q", format=".2f")]
    if n:
        tips.append(alt.Tooltip(f"{n}:Q", title="n"))
    values = list(dict.fromkeys(data[colour].dropna())) if colour else None
    colour_enc = _colour(colour, values) if colour else _channel(alt.ColorValue, OKABE_ITO[3])
    offset = {"yOffset": alt.YOffset(f"{colour}:N")} if colour else {}
    layers = []
    if reference is not None:
        layers.append(alt.Chart(pd.DataFrame({"ref": [reference]})).mark_rule(color=GREY, strokeDash=[4, 4])
                      .encode(x=alt.X("ref:Q")))
    layers.append(alt.Chart(data).mark_rule(strokeWidth=2).encode(
        y=y, x=alt.X(f"{lower}:Q", title=x_title), x2=_channel(alt.X2, f"{upper}:Q"), color=colour_enc, tooltip=tips,
        **offset))
    layers.append(alt.Chart(data).mark_point(filled=True, size=80).encode(
        y=y, x=alt.X(f"{estimate}:Q"), color=colour_enc, tooltip=tips, **offset))
    hidden = data[data[estimate].isna()]
    if len(hidden):
        if colour:
            hidden = hidden.assign(shown=hidden[colour].astype(str) + ": " + hidden["shown"])
        layers.append(alt.Chart(hidden).mark_text(align="left", fontStyle="italic", fontSize=11).encode(
            y=y, x=_channel(alt.XValue, 5), text=_channel(alt.Text, "shown:N"), color=colour_enc, **offset))
    rows = max(len(order), 1) * (max(len(values or []), 1) if colour else 1)
    legend = 70 if colour else 0
    return _finish(_layer(*layers), title, width, height or max(140, 24 * rows + 24 * len(order) + 90 + legend))


# --------------------------------------------------------------------------- time and dose


@_unchecked()
def trajectory_chart(
    frame: pd.DataFrame,
    *,
    x: str = "week",
    y: str = "mean",
    lower: str | None = "ci_low",
    upper: str | None = "ci_high",
    colour: str | None = None,
    n: str | None = "n",
    x_title: str = "Weeks since baseline",
    y_title: str = "Mean score",
    temporal: bool = False,
    title: str | None = None,
    width: int | str = "container",
    height: int = 400,
) -> alt.LayerChart:
    """Values over time (weeks, or dates with ``temporal=True``), with an optional confidence band, one line per group.

    The values are drawn as the library tabulated them (e.g. mean score per
    week since baseline with its interval and n).
    """
    _check(frame, [x, y, lower, upper, colour, n], "trajectory_chart")
    data = _plain(frame, [x, y, lower, upper, colour, n])
    xt = "T" if temporal else "Q"
    values = list(dict.fromkeys(data[colour].dropna())) if colour else None
    colour_enc = _colour(colour, values) if colour else _channel(alt.ColorValue, OKABE_ITO[3])
    tips = [alt.Tooltip(f"{x}:{xt}"), alt.Tooltip(f"{y}:Q", format=".2f")]
    if lower and upper:
        tips += [alt.Tooltip(f"{lower}:Q", format=".2f"), alt.Tooltip(f"{upper}:Q", format=".2f")]
    if n:
        tips.append(alt.Tooltip(f"{n}:Q", title="n"))
    if colour:
        tips.append(alt.Tooltip(f"{colour}:N"))
    layers = []
    if lower and upper:
        band_colour = alt.Color(f"{colour}:N", scale=alt.Scale(domain=values, range=palette(len(values or []))),
                                legend=None) if colour else colour_enc
        layers.append(alt.Chart(data).mark_area(opacity=0.2).encode(
            x=alt.X(f"{x}:{xt}", title=x_title), y=alt.Y(f"{lower}:Q", title=y_title), y2=_channel(alt.Y2, f"{upper}:Q"),
            color=band_colour))
    layers.append(alt.Chart(data).mark_line(point=True).encode(
        x=alt.X(f"{x}:{xt}", title=x_title), y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=colour_enc, tooltip=tips))
    return _finish(_layer(*layers), title, width, height)


@_unchecked()
def dose_threshold_chart(
    frame: pd.DataFrame,
    *,
    dose: str = "min_dose",
    estimate: str = "estimate",
    lower: str | None = "ci_low",
    upper: str | None = "ci_high",
    n: str | None = "n",
    colour: str | None = None,
    y_title: str = "Mean change (95% CI)",
    title: str | None = None,
    width: int | str = "container",
    height: int = 400,
) -> alt.LayerChart:
    """The estimate as the minimum dose rises: points with interval bars, joined by a line."""
    _check(frame, [dose, estimate, lower, upper, n, colour], "dose_threshold_chart")
    data = _plain(frame, [dose, estimate, lower, upper, n, colour])
    values = list(dict.fromkeys(data[colour].dropna())) if colour else None
    colour_enc = _colour(colour, values) if colour else _channel(alt.ColorValue, OKABE_ITO[0])
    xq = alt.X(f"{dose}:Q", title="Minimum attended contacts (dose)", axis=alt.Axis(tickMinStep=1))
    tips = [alt.Tooltip(f"{dose}:Q", title="minimum dose"), alt.Tooltip(f"{estimate}:Q", format=".2f")]
    if lower and upper:
        tips += [alt.Tooltip(f"{lower}:Q", format=".2f"), alt.Tooltip(f"{upper}:Q", format=".2f")]
    if n:
        tips.append(alt.Tooltip(f"{n}:Q", title="n"))
    layers = [alt.Chart(data).mark_line(point=True).encode(
        x=xq, y=alt.Y(f"{estimate}:Q", title=y_title, scale=alt.Scale(zero=False)), color=colour_enc, tooltip=tips)]
    if lower and upper:
        layers.append(alt.Chart(data).mark_rule().encode(x=xq, y=_channel(alt.Y, f"{lower}:Q"),
                                                         y2=_channel(alt.Y2, f"{upper}:Q"), color=colour_enc))
    return _finish(_layer(*layers), title, width, height)


@_unchecked()
def funnel_chart(
    frame: pd.DataFrame,
    *,
    step: str = "step",
    count: str = "n",
    title: str | None = None,
    width: int | str = "container",
    height: int | None = None,
) -> alt.LayerChart:
    """A take-up funnel: one horizontal bar per step in the order given (referred, offered, took up, ...).

    A missing count is labelled ``[c]`` when disclosure control hid it (the frame's ``suppressed`` column
    names it in that row) and ``–`` otherwise (not computed).
    """
    _check(frame, [step, count], "funnel_chart")
    data = _plain(frame, [step, count])
    data[step] = data[step].astype(str)
    order = list(dict.fromkeys(data[step]))
    data["_text"] = _value_labels(frame, count, ",.0f")
    data["_at"] = _label_position(data, count)
    y = alt.Y(f"{step}:N", sort=order, title=None, axis=alt.Axis(labelLimit=360))
    bars = alt.Chart(data).mark_bar(color=OKABE_ITO[3]).encode(
        y=y, x=alt.X(f"{count}:Q", title="Number of mothers"),
        tooltip=[alt.Tooltip(f"{step}:N"), alt.Tooltip("_text:N", title=count)])
    text = alt.Chart(data).mark_text(align="left", dx=3).encode(y=y, x=_channel(alt.X, "_at:Q"),
                                                                text=_channel(alt.Text, "_text:N"))
    return _finish(_layer(bars, text), title, width, height or max(120, 34 * len(order) + 40))


# --------------------------------------------------------------------------- comparing programmes


@_unchecked()
def forest_plot(
    studies: pd.DataFrame,
    *,
    label: str = "programme_id",
    estimate: str = "estimate",
    lower: str = "ci_low",
    upper: str = "ci_high",
    weight: str | None = None,
    pooled: Mapping[str, float] | None = None,
    x_title: str = "Effect (with confidence interval)",
    title: str | None = None,
    width: int | str = "container",
) -> alt.LayerChart:
    """A forest plot: one row per programme, and the pooled estimate as a diamond at the bottom.

    Parameters
    ----------
    studies
        One row per programme with its estimate and interval (and optional weight, as square size).
    pooled
        ``{"estimate": ..., "ci_low": ..., "ci_high": ...}`` (optionally ``pi_low``/``pi_high``)
        from :func:`evalkit.stats.meta_analysis`; drawn as a diamond (and a thin prediction interval).
    """
    _check(studies, [label, estimate, lower, upper, weight], "forest_plot")
    data = _plain(studies, [label, estimate, lower, upper, weight])
    data[label] = data[label].astype(str)
    order = list(dict.fromkeys(data[label]))
    pooled_label = "Pooled estimate"
    all_order = [*order, pooled_label] if pooled else order
    y = alt.Y(f"{label}:N", sort=all_order, title=None, scale=alt.Scale(domain=all_order))
    tips = [alt.Tooltip(f"{label}:N"), alt.Tooltip(f"{estimate}:Q", format=".2f"),
            alt.Tooltip(f"{lower}:Q", format=".2f"), alt.Tooltip(f"{upper}:Q", format=".2f")]
    layers = [alt.Chart(pd.DataFrame({"ref": [0.0]})).mark_rule(color=GREY, strokeDash=[4, 4]).encode(
        x=_channel(alt.X, "ref:Q"))]
    layers.append(alt.Chart(data).mark_rule(color=OKABE_ITO[3]).encode(
        y=y, x=alt.X(f"{lower}:Q", title=x_title), x2=_channel(alt.X2, f"{upper}:Q"), tooltip=tips))
    size = alt.Size(f"{weight}:Q", legend=None, scale=alt.Scale(range=[40, 300])) if weight \
        else _channel(alt.SizeValue, 90)
    if weight:
        tips = [*tips, alt.Tooltip(f"{weight}:Q", format=".1f", title="weight (%)")]
    layers.append(alt.Chart(data).mark_square(color=OKABE_ITO[3]).encode(y=y, x=_channel(alt.X, f"{estimate}:Q"), size=size,
                                                                          tooltip=tips))
    if pooled:
        est, lo, hi = float(pooled["estimate"]), float(pooled["ci_low"]), float(pooled["ci_high"])
        pooled_row = pd.DataFrame({label: [pooled_label], "estimate": [est], "ci_low": [lo], "ci_high": [hi]})
        if pooled.get("pi_low") is not None and np.isfinite(pooled.get("pi_low", np.nan)):
            pooled_row["pi_low"], pooled_row["pi_high"] = float(pooled["pi_low"]), float(pooled["pi_high"])
            layers.append(alt.Chart(pooled_row).mark_rule(color=OKABE_ITO[4], strokeDash=[2, 2]).encode(
                y=alt.Y(f"{label}:N", sort=all_order, scale=alt.Scale(domain=all_order), title=None),
                x=_channel(alt.X, "pi_low:Q"), x2=_channel(alt.X2, "pi_high:Q")))
        layers.append(alt.Chart(pooled_row).mark_point(shape="diamond", filled=True, size=400,
                                                       color=OKABE_ITO[4]).encode(
            y=alt.Y(f"{label}:N", sort=all_order, scale=alt.Scale(domain=all_order), title=None),
            x=alt.X("estimate:Q"),
            tooltip=[alt.Tooltip("estimate:Q", format=".2f"), alt.Tooltip("ci_low:Q", format=".2f"),
                     alt.Tooltip("ci_high:Q", format=".2f")]))
        layers.append(alt.Chart(pooled_row).mark_rule(color=OKABE_ITO[4], strokeWidth=3).encode(
            y=alt.Y(f"{label}:N", sort=all_order, scale=alt.Scale(domain=all_order), title=None),
            x=_channel(alt.X, "ci_low:Q"), x2=_channel(alt.X2, "ci_high:Q")))
    return _finish(_layer(*layers), title, width, 34 * len(all_order) + 90)


@_unchecked()
def funnel_plot(
    points: pd.DataFrame,
    *,
    size: str = "n",
    value: str = "value",
    label: str = "programme_id",
    limits: pd.DataFrame | None = None,
    limit_size: str = "n",
    limit_columns: Sequence[str] = ("lower_95", "upper_95", "lower_998", "upper_998"),
    target: float | None = None,
    flag: str | None = None,
    y_title: str = "Value",
    x_title: str = "Number of mothers (n)",
    title: str | None = None,
    width: int | str = "container",
    height: int = 420,
) -> alt.LayerChart:
    """A funnel plot: each programme's value against its size, with control limits drawn from ``limits``.

    ``limits`` is a frame of limit curves over a grid of sizes as returned by
    :func:`evalkit.stats.funnel_limits` (one column per limit); the chart only
    draws them.
    """
    _check(points, [size, value, label, flag], "funnel_plot")
    data = _plain(points, [size, value, label, flag])
    data[label] = data[label].astype(str)
    layers = []
    if limits is not None and len(limits):
        cols = [c for c in limit_columns if c in limits.columns]
        _check(limits, [limit_size], "funnel_plot limits")
        long = _plain(limits, [limit_size, *cols]).melt(id_vars=[limit_size], var_name="limit", value_name="y")
        dash = alt.condition(alt.FieldOneOfPredicate(field="limit", oneOf=[c for c in cols if "99" in c]),
                             alt.value([2, 2]), alt.value([6, 3]))
        layers.append(alt.Chart(long).mark_line(color=GREY).encode(
            x=alt.X(f"{limit_size}:Q", title=x_title, scale=alt.Scale(zero=False, padding=30)),
            y=alt.Y("y:Q", title=y_title),
            detail=_channel(alt.Detail, "limit:N"), strokeDash=dash, tooltip=[_channel(alt.Tooltip, "limit:N")]))
    if target is not None and np.isfinite(target):
        layers.append(alt.Chart(pd.DataFrame({"t": [float(target)]})).mark_rule(color="#333333").encode(
            y=_channel(alt.Y, "t:Q")))
    tips = [alt.Tooltip(f"{label}:N"), alt.Tooltip(f"{size}:Q", title="n"), alt.Tooltip(f"{value}:Q", format=".3g")]
    if flag:
        tips.append(alt.Tooltip(f"{flag}:N"))
        flags = list(dict.fromkeys(data[flag].dropna()))
        colour = alt.Color(f"{flag}:N", title="Position", scale=alt.Scale(domain=flags, range=palette(len(flags))))
    else:
        colour = _channel(alt.ColorValue, OKABE_ITO[3])
    layers.append(alt.Chart(data).mark_point(filled=True, size=90).encode(
        x=alt.X(f"{size}:Q", title=x_title, scale=alt.Scale(zero=False, padding=30)),
        y=alt.Y(f"{value}:Q", title=y_title), color=colour, tooltip=tips))
    layers.append(alt.Chart(data).mark_text(align="left", dx=7, fontSize=11).encode(
        x=_channel(alt.X, f"{size}:Q"), y=_channel(alt.Y, f"{value}:Q"), text=_channel(alt.Text, f"{label}:N")))
    return _finish(_layer(*layers), title, width, height)
