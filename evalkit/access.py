"""Who may see which rows: access scopes applied where data are loaded (in the SQL query).

============ ==============================================================
role         individual-level rows it may load
============ ==============================================================
provider     rows of the programmes run by its ``providers``
evaluator    rows of its assigned ``programmes``
admin        all rows
researcher   none (aggregate summaries only, produced elsewhere):
             :class:`~evalkit.errors.AccessDenied`
============ ==============================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

from evalkit.errors import AccessDenied

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["ROLES", "Role", "Scope"]

Role = Literal["provider", "evaluator", "researcher", "admin"]
ROLES: tuple[str, ...] = get_args(Role)


@dataclass(frozen=True)
class Scope:
    """The rows one user may see.

    Parameters
    ----------
    role
        One of :data:`ROLES`.
    providers
        For ``role="provider"``: the provider organisations (as in
        ``programmes.provider``) whose programmes' rows are visible.
    programmes
        For ``role="evaluator"``: the assigned programme ids. For a provider,
        an optional further restriction to some of its programmes.
    """

    role: Role
    providers: frozenset[str] = field(default_factory=frozenset)
    programmes: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {list(ROLES)}; got {self.role!r}")
        for name in ("providers", "programmes"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ValueError(f"{name} must be a collection of names, not the single string {value!r}")
            object.__setattr__(self, name, frozenset(value))
        if self.role == "provider" and not self.providers:
            raise ValueError("a provider scope needs at least one provider in providers=")

    @classmethod
    def admin(cls) -> Scope:
        """Everything."""
        return cls("admin")

    @classmethod
    def for_provider(cls, *providers: str) -> Scope:
        """The rows of the named providers' programmes."""
        return cls("provider", providers=frozenset(providers))

    @classmethod
    def for_evaluator(cls, programmes: Iterable[str]) -> Scope:
        """The rows of the assigned programmes."""
        return cls("evaluator", programmes=frozenset(programmes))

    @property
    def granted_programmes(self) -> frozenset[str] | None:
        """The programme ids this scope is limited to, or ``None`` when no list of programmes limits it.

        The one rule of which programmes a user may see, applied by every door of the store (rows, uploads,
        quarantined rows): an evaluator sees its assigned ``programmes`` only (none when none are assigned); a
        provider, every programme of its ``providers`` unless narrowed to some of them by ``programmes``; a
        researcher's aggregates are narrowed by ``programmes`` when given; an admin sees every programme
        (``programmes`` does not narrow an admin).
        """
        if self.role == "evaluator" or (self.role != "admin" and self.programmes):
            return self.programmes
        return None

    def own_programmes(self, programmes: pd.DataFrame) -> frozenset[str]:
        """A provider's own programmes in a programmes table, within :attr:`granted_programmes`.

        The rule the store applies in SQL, for tables already in memory: the programmes whose ``provider`` is
        one of this scope's ``providers`` (compared as text), narrowed to :attr:`granted_programmes` when the
        scope has them. Only a provider has programmes of its own: for any other role this is empty.

        Parameters
        ----------
        programmes
            A programmes table with ``programme_id`` and ``provider`` columns.

        Returns
        -------
        frozenset of str
            The ``programme_id`` values (as text) this provider may see.
        """
        if self.role != "provider":
            return frozenset()
        ours = programmes["provider"].astype("string").isin(list(self.providers)).fillna(False).to_numpy()
        own = frozenset(programmes.loc[ours, "programme_id"].astype(str))
        granted = self.granted_programmes
        return own if granted is None else own & granted

    def require_individual_rows(self) -> None:
        """Raise :class:`AccessDenied` unless this scope may see individual-level rows."""
        if self.role == "researcher":
            raise AccessDenied(
                "researchers may not load individual-level rows; use the aggregate summaries instead"
            )
