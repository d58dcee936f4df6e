"""The cluster jackknife (CR3) of the random-intercept model against its formula, one participant at a time."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import evalkit.longitudinal as lg


def _jackknife_by_participant(X: np.ndarray, r: np.ndarray, codes: np.ndarray, sigma2: float, tau2: float,
                              bread: np.ndarray) -> np.ndarray:
    """Bell & McCaffrey's leave-one-participant-out shift, participant by participant (the reference)."""
    G = int(codes.max()) + 1
    a_inv = np.linalg.pinv(bread)
    total = np.zeros((X.shape[1], X.shape[1]))
    for g in range(G):
        rows = np.flatnonzero(codes == g)
        n = rows.size
        Xg, rg = X[rows], r[rows]
        W = (np.eye(n) - tau2 / (sigma2 + n * tau2) * np.ones((n, n))) / sigma2
        H = Xg @ a_inv @ Xg.T @ W
        d = a_inv @ Xg.T @ W @ np.linalg.solve(np.eye(n) - H, rg)
        total += np.outer(d, d)
    return (G - 1) / G * total


def _design(seed: int, n_groups: int, max_size: int, p: int) -> tuple:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, max_size + 1, size=n_groups)
    codes = rng.permutation(np.repeat(np.arange(n_groups), sizes))  # a participant's rows not next to each other
    X = np.column_stack([np.ones(codes.size), rng.normal(size=(codes.size, p - 1))])
    y = X @ rng.normal(size=p) + rng.normal(size=n_groups)[codes] + rng.normal(size=codes.size)
    sigma2, tau2 = 1.0 + rng.random(), rng.random()
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ beta
    bread = lg._ri_weighted(X, r, codes, sigma2, tau2)[1]
    return X, r, codes, sigma2, tau2, bread


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_groups=st.integers(3, 40), max_size=st.integers(1, 7),
       p=st.integers(1, 4), block=st.sampled_from([1, 7, 50, 1 << 21]))
def test_jackknife_equals_the_formula_one_participant_at_a_time(seed: int, n_groups: int, max_size: int, p: int,
                                                                block: int) -> None:
    args = _design(seed, n_groups, max_size, p)
    assume(len(args[0]) >= 3 * p + 2)  # no participant alone decides a coefficient (I - H_gg singular)
    old = lg._JACKKNIFE_BLOCK_CELLS
    try:
        lg._JACKKNIFE_BLOCK_CELLS = block  # blocks of one participant up to all of them
        got = lg._jackknife_ri(*args)
    finally:
        lg._JACKKNIFE_BLOCK_CELLS = old
    np.testing.assert_allclose(got, _jackknife_by_participant(*args), rtol=1e-9, atol=1e-12)


def test_jackknife_holds_a_block_not_every_participant(monkeypatch: pytest.MonkeyPatch) -> None:
    """No array of the stacked matrices is larger than a block, however many participants there are."""
    X, r, codes, sigma2, tau2, bread = _design(3, 5_000, 6, 3)
    largest = []
    real_solve = np.linalg.solve

    def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        largest.append(a.size)
        return real_solve(a, b)

    monkeypatch.setattr(lg, "_JACKKNIFE_BLOCK_CELLS", 2_000)
    monkeypatch.setattr(lg.np.linalg, "solve", solve)
    lg._jackknife_ri(X, r, codes, sigma2, tau2, bread)
    assert largest and max(largest) <= 2_000
