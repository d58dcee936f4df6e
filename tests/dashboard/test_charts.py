"""evalkit.charts: specs carry the data they draw, the Okabe-Ito palette, and refuse missing columns."""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit import charts


def _spec(chart) -> dict:  # noqa: ANN001
    return chart.to_dict()


def test_jacobson_plot_layers_and_colours() -> None:
    eps = pd.DataFrame({"baseline_score": [20.0, 15, 12], "endpoint_score": [8.0, 14, 18],
                        "cs_category": pd.Categorical(["recovered", "unchanged", "harmed"]),
                        "programme_id": pd.array(["A", "A", pd.NA], dtype="string")})
    spec = _spec(charts.jacobson_plot(eps, threshold=4, cutoff=13, score_range=(0, 30), tooltip=["programme_id"]))
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]
    assert marks == ["area", "line", "rule", "rule", "point"]
    point = spec["layer"][-1]["encoding"]["color"]["scale"]
    assert point["domain"] == ["recovered", "unchanged", "harmed"]
    assert point["range"] == [charts.CATEGORY_COLOURS[c] for c in point["domain"]]
    values = next(iter(spec["datasets"].values()))
    assert len(spec["datasets"]) >= 3 and values


def test_palette_is_okabe_ito() -> None:
    assert charts.palette(3) == list(charts.OKABE_ITO[:3])
    assert charts.palette(10)[8] == charts.OKABE_ITO[0]
    with pytest.raises(ValueError):
        charts.palette(-1)


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match=r"\['estimate', 'ci_low', 'ci_high'\] are not in the data"):
        charts.estimate_chart(pd.DataFrame({"label": ["a"]}), label="label")


@pytest.mark.parametrize("build", [
    lambda: charts.estimate_chart(pd.DataFrame({"m": ["a", "b"], "estimate": [1.0, None], "ci_low": [0.5, None],
                                                "ci_high": [1.5, None]}), label="m"),
    lambda: charts.trajectory_chart(pd.DataFrame({"week": [0, 4], "mean": [14.0, 10], "ci_low": [13.0, 9],
                                                  "ci_high": [15.0, 11], "n": [20, 15]})),
    lambda: charts.dose_threshold_chart(pd.DataFrame({"min_dose": [1, 2], "estimate": [-3.0, -4],
                                                      "ci_low": [-4.0, -5], "ci_high": [-2.0, -3], "n": [40, 30]})),
    lambda: charts.funnel_chart(pd.DataFrame({"step": ["referred", "took up"], "n": [100, pd.NA]})),
    lambda: charts.category_chart(pd.DataFrame({"category": ["improved", "unchanged"], "n": [5, 7]})),
    lambda: charts.bar_chart(pd.DataFrame({"x": ["a", "b"], "y": [1.0, 2.0]}), x="x", y="y"),
    lambda: charts.distribution_chart(pd.DataFrame({"sessions": [1, 2, 3], "n": [4, 5, None]}), value="sessions"),
    lambda: charts.forest_plot(pd.DataFrame({"programme_id": ["A", "B"], "estimate": [-0.5, -0.8],
                                             "ci_low": [-0.9, -1.2], "ci_high": [-0.1, -0.4], "weight": [40.0, 60]}),
                               weight="weight", pooled={"estimate": -0.7, "ci_low": -0.95, "ci_high": -0.45,
                                                        "pi_low": -1.2, "pi_high": -0.2}),
    lambda: charts.funnel_plot(pd.DataFrame({"programme_id": ["A", "B"], "n": [50, 120], "value": [0.4, 0.55]}),
                               limits=pd.DataFrame({"n": [10, 100, 200], "lower_95": [0.2, 0.4, 0.43],
                                                    "upper_95": [0.8, 0.6, 0.57]}), target=0.5),
])
def test_every_builder_makes_a_valid_spec(build) -> None:  # noqa: ANN001
    spec = _spec(build())
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def _labels(chart, field: str) -> list[str]:  # noqa: ANN001
    """The ``field`` of every row of the chart's datasets (the text drawn beside bars or points)."""
    rows = [row for values in _spec(chart)["datasets"].values() for row in values if field in row]
    return [row[field] for row in rows]


_SUPPRESSED = ["", "n", ""]  # row 2 hidden by disclosure control; row 3 missing for another reason


@pytest.mark.parametrize("build", [
    lambda f: charts.bar_chart(f, x="step", y="n"),
    lambda f: charts.distribution_chart(f, value="step", count="n"),
    lambda f: charts.funnel_chart(f, step="step", count="n"),
    lambda f: charts.category_chart(f, category="step", count="n"),
])
def test_bar_labels_tell_hidden_from_not_computed(build) -> None:  # noqa: ANN001
    frame = pd.DataFrame({"step": ["a", "b", "c"], "n": pd.array([12, pd.NA, pd.NA], dtype="Int64"),
                          "suppressed": _SUPPRESSED})
    assert _labels(build(frame), "_text") == ["12", "[c]", "\u2013"]
    # without a suppressed column nothing was hidden: a missing count was not computed
    assert _labels(build(frame.drop(columns="suppressed")), "_text") == ["12", "\u2013", "\u2013"]


def test_estimate_chart_tells_hidden_from_not_estimable() -> None:
    frame = pd.DataFrame({"m": ["a", "b", "c"], "estimate": [1.0, None, None], "ci_low": [0.5, None, None],
                          "ci_high": [1.5, None, None], "suppressed": ["", "estimate; ci_low", "n"]})
    shown = _labels(charts.estimate_chart(frame, label="m"), "shown")
    assert set(shown) == {"", "[c] hidden (small numbers)", "\u2013 not estimable"}
    coloured = frame.assign(method=["x", "y", "z"])
    shown = set(_labels(charts.estimate_chart(coloured, label="m", colour="method"), "shown"))
    assert {"y: [c] hidden (small numbers)", "z: \u2013 not estimable"} <= shown


def test_stacked_frames_keep_what_was_hidden() -> None:
    from dashboards import sections
    from evalkit.change_methods import change_by_method

    rows = pd.DataFrame({"programme_id": ["A", "B"], "n_dose_1": pd.array([8, pd.NA], dtype="Int64"),
                         "n_dose_2_3": pd.array([pd.NA, 9], dtype="Int64"), "suppressed": ["n_dose_2_3", ""]})
    long = sections.stack_columns(rows, [("1", "n_dose_1"), ("2-3", "n_dose_2_3")], label="dose", value="n")
    assert long["suppressed"].tolist() == ["", "", "n", ""]
    stem = "reliable_improvement"
    summary = pd.DataFrame({"programme_id": ["A"], f"n_{stem}": pd.array([pd.NA], dtype="Int64"),
                            f"pct_{stem}": [float("nan")], f"pct_{stem}_ci_low": [float("nan")],
                            f"pct_{stem}_ci_high": [float("nan")], "mean_change": [-3.0], "ci_low": [-4.0],
                            "ci_high": [-2.0], "n_paired": [30], "mm_change": [float("nan")],
                            "mm_ci_low": [float("nan")], "mm_ci_high": [float("nan")], "mm_n_participants": [30],
                            "suppressed": [f"n_{stem}; pct_{stem}; pct_{stem}_ci_low; pct_{stem}_ci_high"]})
    assert sections.stack_categories(summary)["suppressed"].tolist() == ["n; percent"]
    methods = change_by_method(summary)
    # the mixed model's estimate is missing but not hidden (not estimable): a dash, never [c]
    assert methods["suppressed"].tolist() == ["", ""]
    labels = set(_labels(charts.estimate_chart(methods, label="programme_id", colour="method"), "shown"))
    assert "mixed model: \u2013 not estimable" in labels


def test_tables_are_rounded_for_reading_and_keep_hidden_cells() -> None:
    from dashboards import ui

    frame = pd.DataFrame({"mean": [3.9326923076923075, -12.347, None], "p": [0.000412345, 0.04567, 0.5],
                          "n": pd.array([12, None, 7], dtype="Int64"), "share": pd.array([0.5, None, 1.0], "Float64"),
                          "suppressed": ["", "n; share", ""]})
    shown = ui.readable(frame)
    assert shown["mean"].tolist() == ["3.93", "-12.35", ""]
    assert shown["p"].tolist() == ["0.000412", "0.0457", "0.5"]
    assert shown["n"].tolist() == ["12", "[c]", "7"] and shown["share"].tolist() == ["0.5", "[c]", "1.0"]
    plain = ui.readable(frame.drop(columns="suppressed"))
    assert plain["mean"].tolist()[:2] == [3.93, -12.35] and plain["p"].tolist() == [0.000412, 0.0457, 0.5]
    assert frame["mean"].iloc[0] == 3.9326923076923075  # the library's table is not changed


def test_exit_reasons_and_endings_in_words() -> None:
    from evalkit.engagement import ENDING_GROUP_WORDS, EXIT_STEP_WORDS, FUNNEL_STEPS, exit_reason_words

    words = exit_reason_words(pd.Series(["not_ready", "stopped_attending", "no_score_after_baseline", "ongoing",
                                         "not_recorded", "a_new_code", "total", None]))
    assert words.tolist()[:7] == ["Not ready to talk / did not feel able", "Stopped attending without a planned ending",
                                  "No valid score after the baseline", "No ending recorded (still supported)",
                                  "No reason recorded", "a new code", "All reasons"]
    assert words.isna().tolist()[-1]
    assert set(EXIT_STEP_WORDS) == set(FUNNEL_STEPS) - {"referred"}
    assert set(ENDING_GROUP_WORDS) == {"planned", "moved_on_coping", "stopped_attending", "other", "ongoing"}


@pytest.mark.parametrize("own_config", [False, True])
def test_finishing_sets_the_configuration_configure_would(own_config: bool) -> None:
    """The fonts, legend and title settings of every chart: the spec configure_axis, configure_legend and
    configure_title give, and a chart's own configuration kept beside them."""
    import altair as alt

    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    chart = alt.layer(alt.Chart(frame).mark_point().encode(x="x:Q", y="y:Q"),
                      alt.Chart(frame).mark_rule().encode(x="x:Q"))
    if own_config:
        chart = chart.configure_view(stroke=None)
    font = charts._FONT
    expected = chart.properties(width=300, height=200, title="T").configure_axis(
        labelFont=font, titleFont=font).configure_legend(labelFont=font, titleFont=font, orient="bottom") \
        .configure_title(font=font, anchor="start")
    assert _spec(charts._finish(chart, "T", 300, 200)) == _spec(expected)
    assert ("stroke" in _spec(expected)["config"]["view"]) is own_config  # (the theme sets the view's size)


def _untyped(kind, spec):  # noqa: ANN001, ANN202
    """What the builders passed to Altair before channels were built as their classes: the shorthand string, or
    ``alt.value(...)`` for a constant."""
    import altair as alt

    return alt.value(spec) if kind.__name__.endswith("Value") else spec


_HIDDEN = pd.DataFrame({"programme_id": ["A", "B", "C"], "estimate": [1.0, None, None], "ci_low": [0.5, None, None],
                        "ci_high": [1.5, None, None], "n": [30, 3, None], "suppressed": ["", "estimate; n", ""]})


_EVERY_BUILDER = [
    lambda: charts.estimate_chart(_HIDDEN, label="programme_id", n="n"),
    lambda: charts.estimate_chart(_HIDDEN.assign(method=["x", "y", "x"]), label="programme_id", colour="method",
                                  reference=None, title="t"),
    lambda: charts.trajectory_chart(pd.DataFrame({"week": [0, 4], "mean": [14.0, 10], "ci_low": [13.0, 9],
                                                  "ci_high": [15.0, 11], "n": [20, 15]})),
    lambda: charts.trajectory_chart(pd.DataFrame({"week": [0, 4], "mean": [14.0, 10], "ci_low": [13.0, 9],
                                                  "ci_high": [15.0, 11], "n": [20, 15], "programme_id": ["A", "B"]}),
                                    colour="programme_id"),
    lambda: charts.dose_threshold_chart(pd.DataFrame({"min_dose": [1, 2], "estimate": [-3.0, -4],
                                                      "ci_low": [-4.0, -5], "ci_high": [-2.0, -3], "n": [40, 30]})),
    lambda: charts.jacobson_plot(pd.DataFrame({"baseline_score": [20.0, 15], "endpoint_score": [8.0, 14]}),
                                 category=None, threshold=4, cutoff=13),
    lambda: charts.jacobson_plot(pd.DataFrame({"baseline_score": [20.0, 15], "endpoint_score": [8.0, 14],
                                               "cs_category": ["recovered", "unchanged"]}), threshold=4, cutoff=13),
    lambda: charts.funnel_chart(pd.DataFrame({"step": ["referred", "took up"], "n": [100, pd.NA]})),
    lambda: charts.category_chart(pd.DataFrame({"category": ["improved", "unchanged"], "n": [5, 7]})),
    lambda: charts.bar_chart(pd.DataFrame({"x": ["a", "b"], "y": [1.0, 2.0]}), x="x", y="y"),
    lambda: charts.bar_chart(pd.DataFrame({"x": ["a", "b"], "y": [1.0, 2.0]}), x="x", y="y", horizontal=True),
    lambda: charts.distribution_chart(pd.DataFrame({"sessions": [1, 2, 3], "n": [4, 5, None]}), value="sessions"),
    lambda: charts.forest_plot(pd.DataFrame({"programme_id": ["A", "B"], "estimate": [-0.5, -0.8],
                                             "ci_low": [-0.9, -1.2], "ci_high": [-0.1, -0.4]}),
                               pooled={"estimate": -0.7, "ci_low": -0.95, "ci_high": -0.45,
                                       "pi_low": -1.2, "pi_high": -0.2}),
    lambda: charts.funnel_plot(pd.DataFrame({"programme_id": ["A", "B"], "n": [50, 120], "value": [0.4, 0.55]}),
                               limits=pd.DataFrame({"n": [10, 100, 200], "lower_95": [0.2, 0.4, 0.43],
                                                    "upper_95": [0.8, 0.6, 0.57]}), target=0.5),
]


@pytest.mark.parametrize("build", _EVERY_BUILDER)
def test_channels_built_as_classes_give_the_shorthand_spec(build, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Each builder's spec is the one Altair makes from the shorthand strings and ``alt.value(...)`` it was
    given before (channels are now built as their classes, without Altair's slow class look-up)."""
    typed = _spec(build())
    monkeypatch.setattr(charts, "_channel", _untyped)
    assert typed == _spec(build())


def _finish_on_a_copy(chart, title, width, height):  # noqa: ANN001, ANN202
    """``charts._finish`` as it was before it set the size and title on the builder's own chart: on the copy
    ``chart.properties`` makes."""
    import altair as alt

    props = {"width": width, "height": height}
    if title:
        props["title"] = title
    finished = chart.properties(**props)
    axis = {"labelFont": charts._FONT, "titleFont": charts._FONT}
    legend = {"labelFont": charts._FONT, "titleFont": charts._FONT, "orient": "bottom"}
    title_config = {"font": charts._FONT, "anchor": "start"}
    if finished.config is not alt.Undefined:
        return finished.configure_axis(**axis).configure_legend(**legend).configure_title(**title_config)
    finished.config = alt.Config(axis=alt.AxisConfig(**axis), legend=alt.LegendConfig(**legend),
                                 title=alt.TitleConfig(**title_config))
    return finished


@pytest.mark.parametrize("build", _EVERY_BUILDER)
def test_finishing_the_builders_own_chart_gives_the_spec_of_finishing_a_copy(
        build, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Each builder's spec, with its size, title and fonts set on the chart it built, is the spec (the same
    keys in the same order) it had when they were set on a copy."""
    import json

    own = _spec(build())
    monkeypatch.setattr(charts, "_finish", _finish_on_a_copy)
    copied = _spec(build())
    assert own == copied
    assert json.dumps(own) == json.dumps(copied)


def _altair_layer(*layers):  # noqa: ANN001, ANN002, ANN202
    """How the builders layered their charts before ``charts._layer``: Altair's own ``alt.layer``."""
    import altair as alt

    return alt.layer(*layers)


@pytest.mark.parametrize("build", [*_EVERY_BUILDER,
                                   lambda: charts.category_chart(pd.DataFrame({"category": ["improved", "unchanged"],
                                                                               "n": [5, 7], "g": ["A", "B"]}),
                                                                 group="g")])
def test_layering_with_the_shared_data_on_top_gives_altairs_spec(build, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Each builder's chart, its layers' shared data given to the layered chart, is the chart (the same spec,
    keys in the same order) ``alt.layer`` makes by moving that data up itself."""
    import json

    ours = _spec(build())
    monkeypatch.setattr(charts, "_layer", _altair_layer)
    altairs = _spec(build())
    assert json.dumps(ours) == json.dumps(altairs)


def test_shared_data_goes_to_the_layered_chart_once() -> None:
    """Layers drawing one frame: the layered chart holds it and the layers none; layers drawing different frames
    keep their own (as ``alt.layer`` leaves them)."""
    import altair as alt

    frame, other = pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": [3.0]})
    shared = charts._layer(alt.Chart(frame).mark_point().encode(x=alt.X("x:Q")),
                           alt.Chart(frame).mark_rule().encode(x=alt.X("x:Q")))
    assert shared.data is frame and all(layer.data is alt.Undefined for layer in shared.layer)
    apart = charts._layer(alt.Chart(frame).mark_point().encode(x=alt.X("x:Q")),
                          alt.Chart(other).mark_rule().encode(x=alt.X("x:Q")))
    assert apart.data is alt.Undefined and [layer.data for layer in apart.layer] == [frame, other]


@pytest.mark.parametrize("build", _EVERY_BUILDER)
def test_building_without_altairs_check_on_making_gives_the_checked_spec(build, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Each builder's chart, built with Altair's check of each object as it is made turned off, is the chart
    (the same spec, keys in the same order) built with that check on, and it is valid Vega-Lite."""
    import contextlib
    import json

    from altair.utils import schemapi

    unchecked = build().to_dict(validate=True)
    monkeypatch.setattr(charts, "debug_mode", lambda setting: contextlib.nullcontext())  # Altair's check left on
    assert schemapi.DEBUG_MODE  # Altair's default: checked as made
    checked = _spec(build())
    assert json.dumps(unchecked) == json.dumps(checked)


def test_altairs_check_on_making_is_put_back_after_a_builder() -> None:
    """The builders turn Altair's check off only while they build: it is as it was afterwards, also after a
    builder refused its data; and a builder's own objects are made without it."""
    from altair.utils import schemapi

    seen = []

    class Spy(pd.DataFrame):  # records the setting while the builder reads its data
        @property
        def _constructor(self):  # noqa: ANN202
            return pd.DataFrame

        def __getitem__(self, key):  # noqa: ANN001, ANN204
            seen.append(schemapi.DEBUG_MODE)
            return super().__getitem__(key)

    for setting in (True, False):
        with schemapi.debug_mode(setting):
            charts.estimate_chart(Spy(_HIDDEN), label="programme_id")
            assert schemapi.DEBUG_MODE is setting
            with pytest.raises(ValueError, match="not in the data"):
                charts.estimate_chart(pd.DataFrame({"label": ["a"]}), label="label")
            assert schemapi.DEBUG_MODE is setting
    assert seen and not any(seen)


def test_jacobson_band_and_categories_known_answer() -> None:
    """The no-reliable-change band is the diagonal plus and minus the threshold, clipped to the axes; the
    categories are coloured best first, then any others in sorted order."""
    eps = pd.DataFrame({"baseline_score": [20.0, 15, 12, 9, 22], "endpoint_score": [8.0, 14, 18, 9, 21],
                        "cs_category": ["zeta", "unchanged", "recovered", None, "alpha"]})
    spec = _spec(charts.jacobson_plot(eps, threshold=4, cutoff=13, score_range=(0, 30)))
    band = spec["datasets"][spec["layer"][0]["data"]["name"]]
    assert [(r["x"], r["lower"], r["upper"]) for r in band] == [(0.0, 0.0, 4.0), (30.0, 26.0, 30.0)]
    assert band[0]["what"] == "no reliable change (less than 4 points)"
    colour = spec["layer"][-1]["encoding"]["color"]["scale"]
    assert colour["domain"] == ["recovered", "unchanged", "alpha", "zeta"]
    assert colour["range"] == [charts.CATEGORY_COLOURS["recovered"], charts.CATEGORY_COLOURS["unchanged"],
                               charts.GREY, charts.GREY]
    bars = _spec(charts.category_chart(pd.DataFrame({"category": ["other", "harmed", "improved"], "n": [1, 2, 3]})))
    assert bars["layer"][0]["encoding"]["y"]["sort"] == ["improved", "harmed", "other"]
