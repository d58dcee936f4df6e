"""What :func:`evalkit.compare.compare_summaries` can be asked for: effect measures, estimators, subgroups.

Kept apart from :mod:`evalkit.compare`, which loads SciPy, so that the command line can offer these
choices without loading it (:mod:`evalkit.compare` re-exports them).
"""

from __future__ import annotations

MEASURES: tuple[str, ...] = ("smcr", "mean_change", "recovery", "reliable_improvement", "take_up")
"""Effect measures :func:`evalkit.compare.compare_summaries` can pool."""

METHODS: tuple[str, ...] = ("REML", "DL", "FE", "ML", "PM", "HE", "SJ")
"""tau^2 estimators (``"FE"``: fixed/common effect), as :func:`evalkit.stats.meta_analysis`."""

BY_CHOICES: tuple[str, ...] = ("format", "mode", "delivered_by", "facilitation", "region")
"""Programme characteristics that can define subgroups and moderators."""
