"""Comparing real programmes: separately exported summaries = the tables compared directly; outlier flagged.

These run the whole flow (tables -> episodes -> outcomes -> summaries -> comparison) on the shipped example
data (four programmes, 400 referrals) and on generated programmes with the generator's seeded outlier.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from evalkit.compare import compare_from_tables, compare_summaries
from evalkit.data_source import example_tables
from evalkit.generator import generate_programmes
from evalkit.instruments import builtin_instruments
from evalkit.rules import PairingRules
from evalkit.summary import build_summary, data_hash, read_summary, write_summary

EXAMPLE_PROGRAMMES = ("P-GROUP", "P-PHONE", "P-HOME", "P-PAID")
POOLED_NUMBERS = ("k", "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "yi", "se", "tau2", "i2", "q",
                  "q_pvalue", "zval", "pval")


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return example_tables()


@pytest.fixture(scope="module")
def separate_files(tables, tmp_path_factory) -> list:
    """Each programme exported on its own, as each provider would, written to its own file."""
    folder = tmp_path_factory.mktemp("summaries")
    paths = []
    for pid in EXAMPLE_PROGRAMMES:
        s = build_summary(tables, programme=pid)
        paths.append(write_summary(s, folder / f"{pid}.json"))
    return paths


@pytest.fixture(scope="module")
def joint(tables):
    return build_summary(tables)


@pytest.mark.parametrize("measure, method, knha", [
    ("smcr", "REML", False), ("smcr", "DL", True), ("mean_change", "FE", False),
    ("reliable_improvement", "REML", False), ("take_up", "DL", False),
])
def test_separately_exported_summaries_equal_the_tables_compared_directly(tables, separate_files, measure, method,
                                                                          knha):
    from_files = compare_summaries([read_summary(p) for p in separate_files], instrument="epds", measure=measure,
                                   method=method, knha=knha, by="format")
    direct = compare_from_tables(tables, instrument="epds", measure=measure, method=method, knha=knha, by="format")
    a, b = from_files.pooled.iloc[0], direct.pooled.iloc[0]
    assert a["k"] == 4
    for c in POOLED_NUMBERS:
        assert a[c] == pytest.approx(b[c], rel=1e-9, abs=1e-12), c
    np.testing.assert_allclose(from_files.per_programme["yi"], direct.per_programme["yi"], rtol=1e-9)
    np.testing.assert_allclose(from_files.per_programme["vi"], direct.per_programme["vi"], rtol=1e-9)
    pd.testing.assert_frame_equal(from_files.funnel, direct.funnel, rtol=1e-9)


def test_joint_summary_is_the_separate_summaries_stacked(joint, separate_files):
    parts = [read_summary(p) for p in separate_files]
    stacked = pd.concat([p.results for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(joint.results.reset_index(drop=True), stacked)
    progs = pd.concat([p.programmes for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(joint.programmes.reset_index(drop=True), progs)


def test_summary_holds_no_individual_level_data(tables, joint, separate_files):
    text = joint.to_json()
    ids = set(tables["participants"]["participant_id"].astype(str))
    found = set(re.findall(r"[A-Z]+\d{3,}", text)) & ids
    assert not found, f"participant ids in the summary: {sorted(found)[:5]}"
    supporters = set(tables["contacts"]["peer_supporter_id"].dropna().astype(str))
    assert not any(f'"{s}"' in text for s in supporters)
    data = json.loads(text)
    # no date finer than a month, except the export time itself
    body = json.dumps({k: v for k, v in data.items() if k != "created_at"})
    assert not re.search(r"\d{4}-\d{2}-\d{2}", body)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", data["created_at"])
    # no published count below the threshold, in any object
    threshold = data["disclosure"]["threshold"]
    for obj in [*data["programmes"], *data["results"]]:
        for k, v in obj.items():
            if (k.startswith("n_") or k in ("referred", "offered", "took_up", "attended_1", "reached_min_dose")
                    or k.startswith("rfw_")) and v is not None:
                assert v == 0 or v >= threshold, (obj["programme_id"], k, v)
    # only aggregate fields: every key is in the schema (the reader would refuse anything else)
    assert set(data) == {"schema_version", "kind", "created_at", "software", "data_hash", "rules", "disclosure",
                         "programmes", "results"}
    # the hash is of the programme's own rows
    one = read_summary(separate_files[0])
    own = {k: v[v["programme_id"] == EXAMPLE_PROGRAMMES[0]] for k, v in tables.items()}
    assert one.data_hash == data_hash(own)
    assert joint.data_hash == data_hash(tables)
    assert one.rules_text == PairingRules().describe() and one.rules == PairingRules().to_dict()


def test_outcome_figures_match_the_outcome_engine(tables, joint):
    """The summary carries the outcome engine's paired statistics unchanged where they are published."""
    from evalkit.change import episode_change
    from evalkit.episodes import prepare_episodes
    from evalkit.outcomes import change_statistics

    own = {k: v[v["programme_id"] == "P-PHONE"].reset_index(drop=True) for k, v in tables.items()}
    data = prepare_episodes(own)
    st = change_statistics(episode_change(data.episodes, scored_measures=data.scored_measures),
                           participants=data.participants).set_index("instrument")
    res = joint.results[joint.results["programme_id"] == "P-PHONE"].set_index("instrument")
    for inst in res.index:
        row = res.loc[inst]
        if pd.notna(row["n_paired"]):
            assert row["n_paired"] == st.loc[inst, "n_paired"]
            assert row["baseline_mean"] == pytest.approx(st.loc[inst, "baseline_mean"], rel=1e-12)
            assert row["r_pre_post"] == pytest.approx(st.loc[inst, "pre_post_r"], rel=1e-12)


def _outlier_flags(seed: int, n: int) -> dict[tuple[str, str | None], pd.Series]:
    data = generate_programmes(n, seed=seed, n_programmes=8, outlier_programme=True)
    # EPDS only: the funnel is on EPDS outcomes, and other instruments would only cost time
    summary = build_summary(data.tables, instruments={"epds": builtin_instruments()["epds"]})
    out = {}
    for measure in ("reliable_improvement", "recovery"):
        for od in (None, "multiplicative"):
            comp = compare_summaries([summary], instrument="epds", measure=measure, overdispersion=od)
            out[(measure, od)] = comp.funnel.set_index("programme_id")["flag"]
    return out


@pytest.mark.slow
def test_funnel_flags_the_seeded_outlier_programme():
    """P-OUTLIER (EPDS change a tenth of P-GROUP's) falls below the 99.8% limit; base programmes rarely do.

    Seeds 1-5, 3000 referrals over 9 programmes (about 55-65 paired EPDS episodes in P-OUTLIER). Seen when
    this test was written (seeds 1-20): P-OUTLIER below 99.8% on reliable improvement in 19 of 20 seeds (on
    recovery fewer: its recovery counts are smaller and sometimes suppressed); base programmes outside 99.8%
    on either measure in 5 of 160 programme x seed cells. The base programmes differ genuinely (format,
    exp(N(0, 0.2)) effect scaling), so an occasional flag among them is expected, not a failure.
    """
    seeds = (1, 2, 3, 4, 5)
    seeds_with_base_flag = 0
    flagged_with_od = 0
    for seed in seeds:
        flags = _outlier_flags(seed, 3000)
        plain = [flags[("reliable_improvement", None)], flags[("recovery", None)]]
        outlier = [f.get("P-OUTLIER") for f in plain]
        assert "below_0.998" in outlier, f"seed {seed}: P-OUTLIER not flagged ({outlier})"
        base = {p for f in plain for p, fl in f.items() if p != "P-OUTLIER" and fl.endswith("0.998")}
        seeds_with_base_flag += bool(base)
        # over-dispersion (winsorised, Spiegelhalter 2005) widens the limits but does not hide the outlier
        flagged_with_od += flags[("reliable_improvement", "multiplicative")].get("P-OUTLIER") == "below_0.998"
    assert seeds_with_base_flag <= 1, f"base programmes flagged at 99.8% in {seeds_with_base_flag} of 5 seeds"
    assert flagged_with_od >= 4
