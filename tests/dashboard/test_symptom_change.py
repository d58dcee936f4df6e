"""Symptom change page: the Jacobson plot, categories, mean change and dose figures are the library's."""

from __future__ import annotations

import pandas as pd

from .conftest import assert_clean, frame_with
from .helpers import library_outcomes, same_values


def test_symptom_change_page_shows_the_library_figures(app, example_db) -> None:  # noqa: ANN001
    at = app("views/symptom_change.py")
    assert_clean(at)
    assert at.title[0].value == "Symptom change"
    code = at.selectbox(key="ek_sc_instrument").value
    assert code == "epds"
    lib = library_outcomes(example_db)

    # each mother's change: the rows under the Jacobson plot are the library's paired episodes
    paired = lib.changes[(lib.changes["instrument"] == code) & lib.changes["paired"].astype(bool)]
    shown = frame_with(at, "baseline_score", "endpoint_score", "cs_category")
    same_values(shown, paired, ["participant_id", "baseline_score", "endpoint_score", "change", "cs_category"],
                key=["participant_id"])
    spec = at.get("vega_lite_chart")[0].proto.spec
    assert "baseline_score" in spec and "endpoint_score" in spec

    # mean change with its interval and n, per programme
    summary = lib.summary[lib.summary["instrument"] == code]
    shown = frame_with(at, "mean_change", "ci_low", "ci_high", "n_paired", "completeness")
    same_values(shown, summary, ["programme_id", "n_paired", "mean_change", "ci_low", "ci_high", "completeness"],
                key=["programme_id"])

    # categories: percentages and Wilson intervals of reliable improvement
    cats = frame_with(at, "category", "percent")
    improved = cats[cats["category"] == "reliably improved"]
    expected = pd.DataFrame({"programme_id": summary["programme_id"], "percent": summary["pct_reliable_improvement"],
                             "ci_low": summary["pct_reliable_improvement_ci_low"]})
    same_values(improved, expected, ["programme_id", "percent", "ci_low"], key=["programme_id"])

    # dose threshold curve
    dose = frame_with(at, "min_dose", "mean_change")
    same_values(dose, lib.dose_sensitivity[lib.dose_sensitivity["instrument"] == code],
                ["programme_id", "min_dose", "n", "mean_change"], key=["programme_id", "min_dose"])

    # the three estimates: completers' beside the mixed model's and the imputation's
    methods = frame_with(at, "method", "estimate")
    assert set(methods["method"]) == {"completers", "mixed model", "multiple imputation"}
    completers = methods[methods["method"] == "completers"].rename(columns={"estimate": "mean_change"})
    same_values(completers, summary, ["programme_id", "mean_change", "ci_low", "ci_high"], key=["programme_id"])


def _jacobson_from_every_column(changes: pd.DataFrame, code: str) -> tuple[object, object]:
    """``sections._jacobson`` as it was before it took only the columns shown: paired rows with every episode
    column, the shown columns cut from them afterwards."""
    from dashboards import data, sections, ui
    from evalkit import charts

    inst = data.instrument(code)
    paired = changes[(changes["instrument"] == code) & changes["paired"].astype("boolean").fillna(False)]
    paired = paired.reset_index(drop=True)
    if paired.empty:
        return None, None
    cutoff = inst.default_cutoff.value if inst.default_cutoff else None
    fig = charts.jacobson_plot(paired, threshold=sections.first_value(paired, "rc_threshold"), cutoff=cutoff,
                               score_range=inst.score_range, higher_is_better=inst.higher_is_better,
                               tooltip=["programme_id"])
    return ui.shown(paired[sections.episode_columns(paired)]), fig


def test_jacobson_rows_and_plot_are_those_made_from_every_episode_column(example_db) -> None:  # noqa: ANN001
    import json

    from dashboards import sections, ui

    changes = library_outcomes(example_db).changes
    changes = changes.assign(instrument=changes["instrument"].astype("string"))  # a missing code too
    changes.loc[changes.index[:3], "instrument"] = pd.NA
    for code in [*sorted(changes["instrument"].dropna().unique()), "ucla3"]:
        shown, fig = sections._jacobson(changes, code)
        expected_shown, expected_fig = _jacobson_from_every_column(changes, code)
        if expected_fig is None:
            assert shown is None and fig is None
            continue
        pd.testing.assert_frame_equal(shown.frame, expected_shown.frame, check_exact=True)
        assert shown.frame.attrs == expected_shown.frame.attrs and shown.columns == expected_shown.columns
        got, expected = ui.vega_lite_spec(fig), ui.vega_lite_spec(expected_fig)
        assert json.dumps({k: v for k, v in got.items() if k != "datasets"}) == \
            json.dumps({k: v for k, v in expected.items() if k != "datasets"})
        assert got["datasets"].keys() == expected["datasets"].keys()
        for name, values in got["datasets"].items():
            pd.testing.assert_frame_equal(values, expected["datasets"][name], check_exact=True)
