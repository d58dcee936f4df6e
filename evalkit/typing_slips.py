"""Whether two words are one typing slip apart, for matching what a provider typed to the words evalkit knows.

Used where a provider's word is matched to a known one (value synonyms in :mod:`evalkit.mapping_proposal`,
instrument names in headers in :mod:`evalkit.readers.wide`).
"""

from __future__ import annotations

__all__ = ["one_slip_apart"]


def one_slip_apart(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are the same or differ by one slip: a character typed wrong, added or left out,
    or two neighbouring characters swapped (``EDPS`` for ``EPDS``).

    >>> one_slip_apart("midwfe", "midwife"), one_slip_apart("edps", "epds"), one_slip_apart("gp", "hv")
    (True, True, False)
    """
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]
