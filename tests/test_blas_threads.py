"""One BLAS thread while the longitudinal models are fitted (evalkit.blas_threads), and the same estimates."""

from __future__ import annotations

import threading

import pandas as pd
from test_longitudinal import _synthetic
from threadpoolctl import ThreadpoolController

import evalkit.longitudinal as lg
from evalkit.blas_threads import one_blas_thread
from evalkit.rules import PairingRules


def _threads() -> set[int]:
    return {lib["num_threads"] for lib in ThreadpoolController().info() if lib["user_api"] == "blas"}


def test_one_thread_inside_and_the_threads_before_put_back_after() -> None:
    with ThreadpoolController().limit(limits=2, user_api="blas"):  # two threads before, whatever the machine
        assert _threads() == {2}
        with one_blas_thread():
            assert _threads() == {1}
        assert _threads() == {2}


def test_a_second_thread_waits_for_the_first_and_each_runs_on_one_thread() -> None:
    """The dashboard fits in its sessions' threads: each thread's call is limited in turn, and the process's
    threads are put back after both."""
    inside, order = threading.Event(), []
    before = _threads()

    def second() -> None:
        with one_blas_thread():
            order.append(("second in", _threads()))
        order.append(("second out", _threads()))

    def first() -> None:
        with one_blas_thread():
            worker.start()
            inside.wait(0.3)  # time for the second thread to try to enter
            order.append(("first in", _threads()))
    worker = threading.Thread(target=second)
    leader = threading.Thread(target=first)
    leader.start()
    leader.join(10)
    worker.join(10)
    assert order == [("first in", {1}), ("second in", {1}), ("second out", before)]
    assert _threads() == before


def test_calls_nest_in_one_thread() -> None:
    with ThreadpoolController().limit(limits=2, user_api="blas"):
        with one_blas_thread():
            with one_blas_thread():
                assert _threads() == {1}
            assert _threads() == {1}
        assert _threads() == {2}


def test_the_models_are_fitted_on_one_thread_with_the_same_estimates(monkeypatch) -> None:  # noqa: ANN001
    scores, episodes = _synthetic(200, -3.0, seed=4)
    rules = PairingRules(min_dose=1, mi_imputations=5, seed=3)
    during: list[set[int]] = []
    for name in ("_ri_reml", "_impute_group"):
        inner = getattr(lg, name)
        monkeypatch.setattr(lg, name, lambda *a, inner=inner, **k: (during.append(_threads()), inner(*a, **k))[1])
    with ThreadpoolController().limit(limits=2, user_api="blas"):
        mm = lg.mixed_model_change(scores, episodes, rules=rules)
        mi = lg.multiple_imputation_change(episodes, rules=rules)
        assert during and all(t == {1} for t in during)
        assert _threads() == {2}
        during.clear()
        # the undecorated functions, on the threads set before: the very same estimates
        pd.testing.assert_frame_equal(lg.mixed_model_change.__wrapped__(scores, episodes, rules=rules), mm,
                                      check_exact=True)
        pd.testing.assert_frame_equal(lg.multiple_imputation_change.__wrapped__(episodes, rules=rules), mi,
                                      check_exact=True)
        assert during and all(t == {2} for t in during)
