"""dashboards.ui.vega_lite_spec: the spec a chart is drawn with is Streamlit's own conversion, made once per chart."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import pytest
from altair.utils.schemapi import validate_jsonschema
from streamlit.dataframe_util import convert_anything_to_arrow_bytes
from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec
from streamlit.util import calc_hash

from dashboards import ui
from evalkit import charts


def _jacobson() -> object:
    eps = pd.DataFrame({"baseline_score": [20.0, 15, 12], "endpoint_score": [8.0, 14, 18],
                        "cs_category": pd.Categorical(["recovered", "unchanged", "harmed"]),
                        "programme_id": pd.array(["A", "A", pd.NA], dtype="string")})
    return charts.jacobson_plot(eps, threshold=4, cutoff=13, score_range=(0, 30), tooltip=["programme_id"])


def _sessions() -> object:
    long = pd.DataFrame({"session_date": pd.to_datetime(["2024-01-02", "2024-01-09"]), "n": [3, 5],
                         "count": ["attended", "attended"]})
    return charts.trajectory_chart(long, x="session_date", y="n", lower=None, upper=None, colour="count")


def _forest() -> object:
    return charts.forest_plot(pd.DataFrame({"programme_id": ["A", "B"], "estimate": [-0.5, -0.8],
                                            "ci_low": [-0.9, -1.2], "ci_high": [-0.1, -0.4], "weight": [40.0, 60]}),
                              weight="weight", pooled={"estimate": -0.7, "ci_low": -0.95, "ci_high": -0.45,
                                                       "pi_low": -1.2, "pi_high": -0.2})


@pytest.mark.parametrize("build", [_jacobson, _sessions, _forest])
def test_spec_is_what_streamlit_makes_of_the_chart(build) -> None:  # noqa: ANN001
    """Same spec and the same data (as Arrow) as ``st.altair_chart``'s conversion, dataset names aside."""
    figure = build()
    ours = ui.vega_lite_spec(figure)
    theirs = _convert_altair_to_vega_lite_spec(figure)
    # Streamlit names each dataset by the hash of its Arrow bytes; ours are named by content too
    renamed = {}
    for name, frame in ours["datasets"].items():
        payload = convert_anything_to_arrow_bytes(frame)
        assert theirs["datasets"][calc_hash(payload)] == payload
        renamed[name] = calc_hash(payload)
    assert len(renamed) == len(theirs["datasets"]) > 0
    text = json.dumps({k: v for k, v in ours.items() if k != "datasets"}, sort_keys=True)
    for name, other in renamed.items():
        text = text.replace(json.dumps(name), json.dumps(other))
    assert json.loads(text) == {k: v for k, v in theirs.items() if k != "datasets"}


def test_spec_is_made_once_per_chart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Vega-Lite schema check Altair runs in ``to_dict`` happens on the first draw only."""
    figure = _jacobson()
    calls = []
    real = type(figure).to_dict
    monkeypatch.setattr(type(figure), "to_dict", lambda self, *a, **k: (calls.append(1), real(self, *a, **k))[1])
    first = ui.vega_lite_spec(figure)
    assert ui.vega_lite_spec(figure) is first
    assert len(calls) == 1
    other = _jacobson()  # an equal chart that is another object is converted on its own
    assert ui.vega_lite_spec(other) is not first and len(calls) == 2


def test_drawn_chart_carries_its_data(app) -> None:  # noqa: ANN001
    """On a page, each chart element holds its datasets as Arrow, and a rerun sends the same spec and data."""
    at = app("views/wellbeing.py")
    assert not at.exception, [e.value for e in at.exception]
    drawn = at.get("vega_lite_chart")
    assert drawn and all(len(c.proto.datasets) > 0 and all(d.data.data for d in c.proto.datasets) for c in drawn)
    before = [(c.proto.spec, [(d.name, d.data.data) for d in c.proto.datasets]) for c in drawn]
    at.run()
    assert before == [(c.proto.spec, [(d.name, d.data.data) for d in c.proto.datasets])
                      for c in at.get("vega_lite_chart")]


PAGES = ("symptom_change", "wellbeing", "engagement", "for_whom", "what_works", "compare", "report")


def test_every_chart_a_page_draws_is_valid_vega_lite(app, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The schema check the dashboard skips when drawing (it would run on every rerun) is made here instead:
    every chart each page draws, on the example data, against the Vega-Lite JSON schema Altair ships."""
    specs: list[dict] = []
    make = ui.vega_lite_spec

    def recording(figure):  # noqa: ANN001, ANN202
        spec = make(figure)
        specs.append({**spec, "datasets": {name: [] for name in spec["datasets"]}})  # the data are not the schema's
        return spec

    monkeypatch.setattr(ui, "vega_lite_spec", recording)
    at = app()
    for page in PAGES:
        at.switch_page(f"views/{page}.py")
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
    assert len(specs) >= 10
    schema = alt.vegalite.v6.schema.load_schema()
    for spec in specs:
        validate_jsonschema(spec, schema)  # raises on the first spec that is not valid
    broken = {**specs[0], "mark": {"type": "no-such-mark"}}
    with pytest.raises(Exception, match="no-such-mark"):  # the check can fail
        validate_jsonschema(broken, schema)
