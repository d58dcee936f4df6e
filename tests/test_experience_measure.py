"""The peer-support experience measure: registry files, shipped wording, scoring, and the generator's experience stream."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit._resources import resource_dir
from evalkit.generator import _experience as ex
from evalkit.generator import generate_programmes
from evalkit.instruments import get_instrument
from evalkit.mechanisms import item_catalogue, statements
from evalkit.schemas import TABLE_NAMES
from evalkit.scoring import score

VARIANTS = ("pex_group", "pex_one_to_one")
DOC = Path(__file__).resolve().parents[1] / "docs" / "EXPERIENCE_MEASURE.md"


@pytest.mark.parametrize("code", VARIANTS)
def test_instrument_definition(code: str) -> None:
    inst = get_instrument(code)
    assert inst.role == "experience" and inst.method == "none" and inst.score_range is None
    assert 10 <= inst.n_items <= 14 and set(inst.item_min) == {0.0} and set(inst.item_max) == {4.0}
    assert inst.reverse_keyed == () and not inst.is_change_measure
    assert inst.reliability.value is None and inst.reliability.status == "unverified"
    assert "CC BY 4.0" in inst.licence["terms"]
    subs = {s.code: s for s in inst.subscales}
    assert set(subs) == {"pex_positive", "pex_negative", "pex_ending"}
    assert subs["pex_negative"].higher_is_better is False and subs["pex_positive"].higher_is_better is True
    mech = inst.definition["item_mechanisms"]
    assert [m["item"] for m in mech] == list(range(1, inst.n_items + 1))
    for valence, sub in (("positive", "pex_positive"), ("negative", "pex_negative"), ("ending", "pex_ending")):
        assert tuple(m["item"] for m in mech if m["valence"] == valence) == subs[sub].items
    codes = {m["code"] for m in mech}
    assert {"ending_worry", "compared_worse", "judged", "not_taken_seriously", "listened", "hope"} <= codes
    # the generator's item model follows the file, item by item
    assert [(s.code, s.valence) for s in ex.ITEMS[code]] == [(m["code"], m["valence"]) for m in mech]


def test_variant_specific_items() -> None:
    group = {m["code"] for m in get_instrument("pex_group").definition["item_mechanisms"]}
    one = {m["code"] for m in get_instrument("pex_one_to_one").definition["item_mechanisms"]}
    assert {"negative_group", "upset_by_others", "reason_to_go_out", "helping_others"} <= group - one
    assert {"obliged", "matched_peer", "directive", "connection"} <= one
    assert "obliged" not in group


@pytest.mark.parametrize("code", VARIANTS)
def test_every_item_has_a_short_plain_statement_in_the_wording_file(code: str) -> None:
    text = statements(code)
    inst = get_instrument(code)
    assert sorted(text) == list(range(1, inst.n_items + 1))
    jargon = re.compile(r"\b(symptom|depress|anxiety|clinical|therap|intervention|mechanism)", re.I)
    for item, s in text.items():
        words = s.split()
        assert 3 <= len(words) <= 14, (item, s)
        assert s.endswith(".") and not jargon.search(s), (item, s)
        assert len(s) <= 80
    raw = json.loads((resource_dir("schemas") / "wording" / "pex.json").read_text(encoding="utf-8"))
    assert raw["licence"].startswith("CC BY 4.0")
    assert raw["response_values"] == [0, 1, 2, 3, 4] and len(raw["response_options"]) == 5


def test_docs_show_every_statement_and_say_unvalidated() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for code in VARIANTS:
        for s in statements(code).values():
            assert s in doc, s
    assert "unvalidated" in doc.lower() and "CC BY 4.0" in doc
    cat = item_catalogue()
    assert set(cat["instrument"]) >= set(VARIANTS) and cat["statement"].str.len().gt(0).all()


def test_scoring_reports_subscales_and_no_total() -> None:
    m = pd.DataFrame({"instrument": ["pex_group", "pex_group"],
                      **{f"item_{i}": [4, 2] for i in range(1, 15)}})
    m.loc[0, "item_9"] = 0
    m.loc[1, "item_3"] = np.nan
    s = score(m)
    assert s["score"].isna().all()
    assert s["subscale_pex_positive"].iloc[0] == 4.0 and np.isnan(s["subscale_pex_positive"].iloc[1])
    assert s["subscale_pex_negative"].tolist() == [pytest.approx((0 + 4 * 4) / 5), 2.0]
    assert s["subscale_pex_ending"].tolist() == [4.0, 2.0]
    assert s["score_status"].tolist() == ["complete", "complete"]


# --------------------------------------------------------------------------- generator
@pytest.fixture(scope="module")
def pair() -> tuple:
    return generate_programmes(2500, seed=21), generate_programmes(2500, seed=21, experience=True)


def test_experience_only_adds_rows(pair: tuple) -> None:
    plain, rich = pair
    for name in TABLE_NAMES:
        if name != "measures":
            pd.testing.assert_frame_equal(plain.tables[name], rich.tables[name])
    m = rich.measures
    pex = m["instrument"].isin(VARIANTS)
    pd.testing.assert_frame_equal(m[~pex].reset_index(drop=True), plain.measures)
    assert pex.sum() > 300
    pd.testing.assert_frame_equal(rich.true_effects.iloc[: len(plain.true_effects)], plain.true_effects)


def test_experience_rows_follow_the_contract(pair: tuple) -> None:
    _, rich = pair
    m = rich.measures
    p = rich.participants.set_index("participant_id")
    pex = m[m["instrument"].isin(VARIANTS)]
    assert not pex.duplicated(["participant_id", "instrument", "completed_on"]).any()
    assert (pex["timepoint"] != "start").all()
    assert (pex["completed_on"] >= pex["participant_id"].map(p["first_contact_date"])).all()
    end = pex["participant_id"].map(p["end_date"])
    assert (end.isna() | (pex["completed_on"] <= end)).all()
    group = pex["participant_id"].map(p["format_offered"]) == "group"
    assert ((pex["instrument"] == "pex_group") == group).all()
    for code, rows in pex.groupby("instrument"):
        n = get_instrument(code).n_items
        used = rows[[f"item_{i}" for i in range(1, n + 1)]].to_numpy(dtype=float)
        assert np.isin(used[~np.isnan(used)], [0, 1, 2, 3, 4]).all()
        assert rows[[f"item_{i}" for i in range(n + 1, 21)]].isna().all().all()
    # rows stay sorted by participant and date, like the generator's other measures
    order = m[["participant_id", "completed_on"]]
    assert order.equals(order.sort_values(["participant_id", "completed_on"], kind="stable"))


def test_experience_truth_rows(pair: tuple) -> None:
    _, rich = pair
    te = rich.true_effects
    assert te["description"].notna().all() and np.isfinite(te["value"]).all()
    te = te.assign(instrument=te["instrument"].fillna(""))
    group = te[(te["programme_id"] == "P-GROUP") & (te["instrument"] == "pex_group")].set_index("quantity")["value"]
    one = te[(te["programme_id"] == "P-PHONE") & (te["instrument"] == "pex_one_to_one")].set_index("quantity")["value"]
    assert group["endorse_compared_worse"] > 2 * one["endorse_compared_worse"]
    assert group["ending_worry_unplanned"] > group["ending_worry_planned"] + 0.15
    slopes = te[te["quantity"].str.endswith("_slope") & (te["instrument"] == "epds")]
    assert (slopes.loc[slopes["quantity"].str.contains("positive"), "value"] < -1).all()
    assert (slopes.loc[slopes["quantity"].str.contains("negative"), "value"] > 0.3).all()
    tu = te[te["quantity"].str.startswith("take_up_log_odds")]
    assert (tu["instrument"] == "").all()
    assert set(tu.loc[tu["value"] == 0, "quantity"]) == {"take_up_log_odds_first_time_mother",
                                                         "take_up_log_odds_prior_mh_support",
                                                         "take_up_log_odds_deprivation_decile"}


@pytest.mark.parametrize(("variant", "xi_mean"), [("pex_group", 0.0), ("pex_one_to_one", 0.7)])
def test_exact_moments_agree_with_simulating_the_item_model(variant: str, xi_mean: float) -> None:
    rng = np.random.default_rng(5)
    n = 300_000
    v = rng.standard_normal(n)
    eta, xi = ex._latents(rng, v, np.full(n, xi_mean))
    y = ex._answers(rng, ex.ITEMS[variant], eta, xi, np.zeros(n))
    x = np.column_stack([y[:, :8].mean(axis=1), y[:, 8:13].mean(axis=1)])
    cov_xv, var_x = ex.subscale_moments(variant, xi_mean)
    assert np.cov(np.column_stack([x, v]).T)[:2, 2] == pytest.approx(cov_xv, abs=0.005)
    assert np.cov(x.T) == pytest.approx(var_x, abs=0.006)
    truth = [ex.endorse_probability(s, xi_mean=xi_mean) for s in ex.ITEMS[variant]]
    assert (y >= 3).mean(axis=0) == pytest.approx(truth, abs=0.004)
    assert (y[:, 8:13] >= 3).any(axis=1).mean() == pytest.approx(ex.any_negative_probability(variant, xi_mean),
                                                                 abs=0.004)
    # the latent change of an instrument regressed on X: the slopes in true_effects
    model = ex.OUTCOME_MODELS["epds"]
    change = model.change_sd * model.loading * v + rng.standard_normal(n)
    design = np.column_stack([np.ones(n), x])
    coef = np.linalg.lstsq(design, change, rcond=None)[0][1:]
    assert coef == pytest.approx(ex.experience_slopes(variant, "epds", xi_mean), abs=0.05)


def test_catalog_records_the_experience_option(pair: tuple, tmp_path: Path) -> None:
    from evalkit.generator import write_examples

    _, rich = pair
    write_examples(rich, tmp_path)
    catalog = json.loads((tmp_path / "catalog.json").read_text(encoding="utf-8"))
    assert catalog["source"].endswith("experience=True)") and catalog["generator"]["experience"] is True
