"""Statistics for outcome evaluation.

Pure, vectorised functions; each module has one job:

* :mod:`~evalkit.stats.reliable_change` -- Jacobson-Truax reliable and
  clinically significant change;
* :mod:`~evalkit.stats.proportions` -- Wilson confidence intervals;
* :mod:`~evalkit.stats.effect_sizes` -- pre-post effect sizes and study-level
  effect sizes for meta-analysis (metafor ``escalc`` equivalents);
* :mod:`~evalkit.stats.meta_analysis` -- fixed/random-effects meta-analysis;
* :mod:`~evalkit.stats.meta_regression` -- meta-regression and subgroups;
* :mod:`~evalkit.stats.funnel` -- funnel-plot limits, flags, over-dispersion;
* :mod:`~evalkit.stats.welch` -- Welch's t-test for many pairs of samples at once.

Sign convention: change is ``post - pre`` everywhere.
"""

from .effect_sizes import (
    EffectSize,
    PairedMeanChange,
    hedges_correction,
    paired_effect_size,
    paired_mean_change,
    paired_mean_changes,
    proportion_effect,
    raw_mean_change,
    standardised_mean_change,
)
from .funnel import (
    Overdispersion,
    estimate_overdispersion,
    funnel_flags,
    funnel_limits,
    funnel_limits_continuous,
)
from .meta_analysis import ConvergenceError, MetaAnalysisResult, meta_analysis
from .meta_regression import (
    MetaRegressionResult,
    SubgroupAnalysisResult,
    design_matrix,
    meta_regression,
    subgroup_analysis,
)
from .proportions import wilson_ci
from .reliable_change import jacobson_truax, jt_cutoff, reliable_change_threshold

__all__ = [
    "ConvergenceError",
    "EffectSize",
    "MetaAnalysisResult",
    "MetaRegressionResult",
    "Overdispersion",
    "PairedMeanChange",
    "SubgroupAnalysisResult",
    "design_matrix",
    "estimate_overdispersion",
    "funnel_flags",
    "funnel_limits",
    "funnel_limits_continuous",
    "hedges_correction",
    "jacobson_truax",
    "jt_cutoff",
    "meta_analysis",
    "meta_regression",
    "paired_effect_size",
    "paired_mean_change",
    "paired_mean_changes",
    "proportion_effect",
    "raw_mean_change",
    "reliable_change_threshold",
    "standardised_mean_change",
    "subgroup_analysis",
    "wilson_ci",
]
