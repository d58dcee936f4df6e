"""Large standardised effects: the noncentral-t interval stays finite (regression test).

scipy's noncentral t cdf returns NaN far in its tails; with n = 97 and d_z near -1.2 the
interval search used to hit it and raise. The exact interval must agree with the large-sample
normal approximation d +/- 1.96 sqrt(1/n + d^2 / (2n)) to about 0.01 at these sizes.
"""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.stats import paired_effect_size


@pytest.mark.parametrize(("n", "shift", "noise"), [(97, -4.5, 4.0), (300, -8.0, 3.0), (40, 10.0, 2.0)])
def test_large_effects_have_finite_intervals_close_to_the_normal_approximation(n: int, shift: float, noise: float) -> None:
    rng = np.random.default_rng(n)
    pre = rng.normal(15, 4, n)
    post = pre + shift + rng.normal(0, noise, n)
    es = paired_effect_size(pre, post, kind="dz")
    se = np.sqrt(1 / n + es.estimate**2 / (2 * n))
    assert np.isfinite([es.ci_low, es.ci_high]).all()
    assert es.ci_low < es.estimate < es.ci_high
    assert es.ci_low == pytest.approx(es.estimate - 1.96 * se, abs=0.03)
    assert es.ci_high == pytest.approx(es.estimate + 1.96 * se, abs=0.03)
    dav = paired_effect_size(pre, post, kind="dav")
    assert np.isfinite([dav.ci_low, dav.ci_high]).all()
