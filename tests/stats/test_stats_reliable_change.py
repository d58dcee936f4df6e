"""Known-answer tests for evalkit.stats.reliable_change.

Reference numbers come from the R package clinicalsignificance (GitHub
pedscience/clinicalsignificance): its snapshot
``tests/testthat/_snaps/clinical_significance.md`` (category counts for the
Jacobson 1989 GDS data and the Claus et al. 2020 BDI data, JT method,
reliability 0.8) and ``tests/testthat/test-calc_cutoff.R`` (cut-offs).
Datasets: shared/reference/datasets/cs_jacobson_1989.csv and cs_claus_2020.csv
(provenance in that folder's README.md).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evalkit.stats import jacobson_truax, jt_cutoff, reliable_change_threshold
from evalkit.stats.reliable_change import CATEGORIES


def _counts(df: pd.DataFrame) -> dict[str, int]:
    vc = df["category"].value_counts()
    return {c: int(vc.get(c, 0)) for c in CATEGORIES}


def _wide(path, outcome: str, pre, post) -> pd.DataFrame:
    long = pd.read_csv(path)
    idcol = "subject" if "subject" in long.columns else "id"
    return long.pivot(index=idcol, columns="time", values=outcome)[[pre, post]].rename(
        columns={pre: "pre", post: "post"}
    )


# --------------------------------------------------------------------------- cut-offs


def test_jt_cutoff_matches_clinicalsignificance_example():
    # clinicalsignificance tests/testthat/test-calc_cutoff.R, "Example from Jacobson et al. (1991)":
    # m_clinical 40, sd 7.5, m_functional 60, sd 7.5
    assert jt_cutoff(40, 7.5, 60, 7.5, kind="c") == pytest.approx(50.0)
    assert jt_cutoff(40, 7.5, 60, 7.5, kind="c", higher_is_better=True) == pytest.approx(50.0)
    assert jt_cutoff(40, 7.5, kind="a", higher_is_better=True) == pytest.approx(55.0)
    assert jt_cutoff(40, 7.5, kind="a") == pytest.approx(25.0)
    assert jt_cutoff(40, 7.5, 60, 7.5, kind="b", higher_is_better=True) == pytest.approx(45.0)
    assert jt_cutoff(40, 7.5, 60, 7.5, kind="b") == pytest.approx(75.0)


def test_jt_cutoff_c_weights_by_the_other_sd():
    # hand-worked: (SD_c M_f + SD_f M_c) / (SD_c + SD_f) = (10*10 + 5*30) / 15
    assert jt_cutoff(30, 10, 10, 5, kind="c") == pytest.approx(250 / 15)
    # b uses the functional SD, not the clinical one
    assert jt_cutoff(30, 10, 10, 5, kind="b") == pytest.approx(20.0)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"kind": "c"}, "functional_mean"),
        ({"kind": "b"}, "functional_mean"),
        ({"kind": "d"}, "kind must be one of"),
    ],
)
def test_jt_cutoff_errors(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        jt_cutoff(30, 10, **kwargs)


def test_jt_cutoff_rejects_bad_sd():
    with pytest.raises(ValueError, match="clinical_sd"):
        jt_cutoff(30, 0, kind="a")
    with pytest.raises(ValueError, match="functional_sd"):
        jt_cutoff(30, 5, 10, -1, kind="c")


# --------------------------------------------------------------------------- threshold


def test_reliable_change_threshold_clinicalsignificance_example():
    # clinicalsignificance test-calc_rci_jt.R: sd_pre 5, reliability 0.80;
    # S_diff = sqrt(2 * (5 * sqrt(0.2))^2) = sqrt(10) = 3.1623; threshold = 1.96 * S_diff
    assert reliable_change_threshold(0.80, 5.0) == pytest.approx(1.96 * math.sqrt(10))
    out = reliable_change_threshold([0.8, 0.9], [5.0, 10.0], z=1.645)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, 1.645 * np.sqrt(2) * np.array([5.0, 10.0]) * np.sqrt([0.2, 0.1]))


def test_reliable_change_threshold_errors():
    with pytest.raises(ValueError, match="reliability"):
        reliable_change_threshold(1.0, 5.0)
    with pytest.raises(ValueError, match="sd"):
        reliable_change_threshold(0.8, 0.0)
    with pytest.raises(ValueError, match="same length"):
        reliable_change_threshold([0.8, 0.9, 0.7], [1.0, 2.0])


# --------------------------------------------------------------------------- published results


def test_jacobson_gds_matches_clinicalsignificance(reference_dir):
    # clinicalsignificance _snaps/clinical_significance.md:
    # clinical_significance(jacobson_1989, subject, time, gds, reliability = 0.8, pre = "pre", method = "JT")
    # -> Recovered 10, Improved 4, Unchanged 12, Deteriorated 0, Harmed 0 (26 complete pairs).
    # Defaults there: lower is better, cut-off "a" from the clinical (pre) sample.
    w = _wide(reference_dir / "cs_jacobson_1989.csv", "gds", "pre", "post")
    complete = w.dropna()
    cut = jt_cutoff(complete["pre"].mean(), complete["pre"].std(), kind="a")
    out = jacobson_truax(w["pre"], w["post"], reliability=0.8, cutoff=cut)
    assert out.index.equals(w.index)
    assert _counts(out) == {"recovered": 10, "improved": 4, "unchanged": 12, "deteriorated": 0, "harmed": 0}
    assert out["category"].isna().sum() == 4  # the four couples without a post GDS score


def test_claus_bdi_matches_clinicalsignificance(reference_dir):
    # clinicalsignificance _snaps/clinical_significance.md, "summary is correct":
    # claus_2020, bdi, reliability 0.8, pre = 1, post = 4, JT, type "a":
    # 40 of 43 participants usable; M clinical 35.48, SD 8.16; cut-off 19.16;
    # Recovered 10, Improved 8, Unchanged 22, Deteriorated 0, Harmed 0.
    w = _wide(reference_dir / "cs_claus_2020.csv", "bdi", 1, 4)
    complete = w.dropna()
    assert len(complete) == 40
    m, s = complete["pre"].mean(), complete["pre"].std()
    assert round(m, 2) == 35.48 and round(s, 2) == 8.16
    cut_a = jt_cutoff(m, s, kind="a")
    assert round(cut_a, 2) == 19.16
    out = jacobson_truax(w["pre"], w["post"], reliability=0.8, cutoff=cut_a)
    expected = {"recovered": 10, "improved": 8, "unchanged": 22, "deteriorated": 0, "harmed": 0}
    assert _counts(out) == expected

    # same data with type "c", m_functional = 8, sd_functional = 8: cut-off 21.6, same counts
    cut_c = jt_cutoff(m, s, 8, 8, kind="c")
    assert round(cut_c, 1) == 21.6
    assert _counts(jacobson_truax(w["pre"], w["post"], reliability=0.8, cutoff=cut_c)) == expected


def test_claus_bdi_by_group_matches_clinicalsignificance(reference_dir):
    # same snapshot, group = treatment: TAU 3/2/14/0/0, PA 7/6/8/0/0.
    # The cut-off and the SD come from the whole analysis sample, not per group.
    long = pd.read_csv(reference_dir / "cs_claus_2020.csv")
    w = _wide(reference_dir / "cs_claus_2020.csv", "bdi", 1, 4)
    group = long.drop_duplicates("id").set_index("id")["treatment"].reindex(w.index)
    complete = w.dropna()
    sd = complete["pre"].std()
    cut = jt_cutoff(complete["pre"].mean(), sd, kind="a")
    out = jacobson_truax(w["pre"], w["post"], reliability=0.8, cutoff=cut, sd=sd)
    assert _counts(out[group == "TAU"]) == {
        "recovered": 3,
        "improved": 2,
        "unchanged": 14,
        "deteriorated": 0,
        "harmed": 0,
    }
    assert _counts(out[group == "PA"]) == {
        "recovered": 7,
        "improved": 6,
        "unchanged": 8,
        "deteriorated": 0,
        "harmed": 0,
    }


def test_jacobson_das_hand_worked(reference_dir):
    # Jacobson & Truax (1991) used the DAS (higher is better) of these couples.  We could not
    # verify the paper's DAS reliability and cut-off from the sources available, so this is a
    # hand-worked check with stated inputs: r = 0.80, sd = 7.5 (the SD of J&T's worked
    # example, also used in clinicalsignificance's cut-off test), cut-off 97.5.
    # SE = 7.5 * sqrt(0.2) = 3.3541; S_diff = sqrt(2) * SE = 4.7434; threshold = 9.2971.
    w = _wide(reference_dir / "cs_jacobson_1989.csv", "das", "pre", "post")
    out = jacobson_truax(w["pre"], w["post"], reliability=0.80, sd=7.5, cutoff=97.5, higher_is_better=True)
    s_diff = math.sqrt(2) * 7.5 * math.sqrt(0.2)
    assert s_diff == pytest.approx(4.7434, abs=1e-4)
    # subject 2: 74 -> 124, change +50, RCI 10.541, dysfunctional -> functional: recovered
    assert out.loc[2, "rci"] == pytest.approx(50 / s_diff)
    assert out.loc[2, "category"] == "recovered"
    # subject 3: 97 -> 97.5, change 0.5: unchanged (and 97.5 is not above the cut-off)
    assert out.loc[3, "category"] == "unchanged"
    assert not out.loc[3, "crossed_cutoff"]
    # subject 4: 73.5 -> 88, change 14.5 > 9.297 but still below 97.5: improved
    assert out.loc[4, "category"] == "improved"
    # subject 25: 93 -> 92: unchanged; subject 29: 80 -> 60.5, change -19.5: deteriorated
    # (started below the cut-off, so it cannot be "harmed")
    assert out.loc[25, "category"] == "unchanged"
    assert out.loc[29, "category"] == "deteriorated"
    assert out.loc[29, "reliable_deterioration"]
    # subject 28: 61 -> 52, change -9 (|RCI| = 1.897 < 1.96): unchanged
    assert out.loc[28, "category"] == "unchanged"


# --------------------------------------------------------------------------- behaviour


def test_columns_types_and_direction():
    out = jacobson_truax([30, 30, 30, 30], [20, 27, 41, None], reliability=0.8, sd=5.0, cutoff=25)
    assert list(out.columns) == [
        "pre",
        "post",
        "change",
        "rci",
        "reliable_improvement",
        "reliable_deterioration",
        "crossed_cutoff",
        "category",
    ]
    assert out["reliable_improvement"].dtype == "boolean"
    assert out["crossed_cutoff"].dtype == "boolean"
    assert list(out["category"].cat.categories) == list(CATEGORIES)
    assert out["category"].tolist()[:3] == ["recovered", "unchanged", "deteriorated"]
    assert out.loc[3].isna()[["change", "rci", "reliable_improvement", "crossed_cutoff", "category"]].all()
    # higher is better flips the reading of the same numbers
    up = jacobson_truax([30, 30, 30], [20, 27, 41], reliability=0.8, sd=5.0, cutoff=35, higher_is_better=True)
    assert up["category"].tolist() == ["deteriorated", "unchanged", "recovered"]


def test_harmed_needs_functional_to_dysfunctional():
    out = jacobson_truax([20, 30], [31, 41], reliability=0.8, sd=5.0, cutoff=25)
    assert out["category"].tolist() == ["harmed", "deteriorated"]


def test_score_on_cutoff_counts_as_dysfunctional():
    # lower is better: functional means strictly below the cut-off
    out = jacobson_truax([35, 25], [25, 10], reliability=0.8, sd=5.0, cutoff=25)
    assert out["category"].tolist() == ["improved", "recovered"]


def test_without_cutoff_no_recovered_or_harmed():
    out = jacobson_truax([30, 20], [10, 40], reliability=0.8, sd=5.0)
    assert out["category"].tolist() == ["improved", "deteriorated"]
    assert out["crossed_cutoff"].isna().all()


def test_series_index_kept_and_default_sd():
    pre = pd.Series([10.0, 12.0, 14.0, 30.0], index=["a", "b", "c", "d"])
    post = pd.Series([9.0, 12.0, 20.0, np.nan], index=["a", "b", "c", "d"])
    out = jacobson_truax(pre, post, reliability=0.5)
    assert list(out.index) == ["a", "b", "c", "d"]
    # default sd: SD of pre over complete pairs (10, 12, 14) = 2
    assert out.loc["c", "rci"] == pytest.approx(6 / (math.sqrt(2) * 2 * math.sqrt(0.5)))


def test_jacobson_truax_errors():
    with pytest.raises(ValueError, match="reliability"):
        jacobson_truax([1, 2], [1, 2], reliability=1.0)
    with pytest.raises(ValueError, match="same length"):
        jacobson_truax([1, 2, 3], [1, 2], reliability=0.8)
    with pytest.raises(ValueError, match="indexes differ"):
        jacobson_truax(pd.Series([1, 2], index=[0, 1]), pd.Series([1, 2], index=[1, 2]), reliability=0.8)
    with pytest.raises(ValueError, match="sd"):
        jacobson_truax([1, 2], [1, 2], reliability=0.8, sd=-1)
    with pytest.raises(ValueError, match="at least 2"):
        jacobson_truax([1, np.nan], [1, 2], reliability=0.8)
    with pytest.raises(ValueError, match="pre must contain numbers"):
        jacobson_truax(["a", "b"], [1, 2], reliability=0.8, sd=1)
