"""pandas' Arrow-backed text dtype, named once, and the test of whether a column's dtype is Arrow text.

Readers and validation keep text in pandas' default string dtype (``"str"``: Arrow-backed, missing = NaN), so
that Arrow's kernels read it without a Python string per cell. Many steps take a faster path when a column (or a
categorical's categories) is already Arrow text: :func:`is_arrow_text` is that test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["TEXT_DTYPE", "is_arrow_text", "is_text_categorical"]

TEXT_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
"""pandas' default string dtype (``"str"``): Arrow-backed, missing = NaN."""


def is_arrow_text(dtype: object) -> bool:
    """Whether ``dtype`` is pandas text held by Arrow (``"str"`` or ``"string[pyarrow]"``, whichever missing value).

    Examples
    --------
    >>> import pandas as pd
    >>> is_arrow_text(pd.Series(["a"], dtype="str").dtype), is_arrow_text(pd.Series(["a"], dtype=object).dtype)
    (True, False)
    """
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def is_text_categorical(dtype: object) -> bool:
    """Whether ``dtype`` is a categorical whose categories are pandas text (``"str"`` or ``"string"``), as the
    readers' coded columns and the provenance columns ``source_file`` and ``source_sheet`` are held."""
    return isinstance(dtype, pd.CategoricalDtype) and isinstance(dtype.categories.dtype, pd.StringDtype)
