"""The dashboard's one door to data: every frame is loaded through evalkit with the user's access scope.

* The database engine is a shared resource (``st.cache_resource``, engines only).
* Canonical tables are loaded with :func:`evalkit.store.load_tables` and the
  current :class:`~evalkit.access.Scope`, so access control happens in the SQL
  query, not in the page. A researcher's scope raises
  :class:`~evalkit.errors.AccessDenied` there.
* Every cached function takes the database URL, the data version
  (:func:`evalkit.store.data_version`), the scope and the filters as
  arguments, so they are all part of the cache key: role-scoped data are never
  shared between roles, and new uploads or rollbacks invalidate the caches.
* The expensive inputs of the pages, the loaded tables (the contacts apart:
  no shared result holds them; see :func:`page_run`), the prepared
  episodes, each mother's path through the take-up funnel
  (:func:`evalkit.engagement.participant_path`) and
  :func:`evalkit.outcomes.evaluate_outcomes`, are computed once per data
  version, scope, filters (and rules) and shared by every page and session
  with that key (``st.cache_resource``: one object, not a pickled copy per
  call). Library functions are pure, so they read the shared frames as they
  are; pages get shallow copies (:func:`_isolated`), so nothing a page does
  can change what another page or session sees. :func:`clear_caches` empties
  both kinds of cache.
* Analyses are evalkit functions called through :func:`_analysis`; the
  dashboard computes no statistic. Where the library function is not in this
  installation yet, :class:`LibraryMissing` is raised and the page says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib
import io
import json
import tempfile
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from evalkit.access import Scope
from evalkit.errors import AccessDenied
from evalkit.rules import PairingRules

DB_ENV = "EVALKIT_DB_URL"
INDIVIDUAL_ROLES = ("provider", "evaluator", "admin")
"""Roles that may see individual-level rows (researchers see aggregates only)."""
SAFETY_ROLES = ("provider", "admin")
"""Roles that see the safety follow-up list (the provider's own staff)."""
UPLOAD_ROLES = ("provider", "admin")

ScopeKey = tuple[str, tuple[str, ...], tuple[str, ...]]


class LibraryMissing(Exception):
    """An evalkit function the page needs is not in this installation (yet)."""

    def __init__(self, name: str, detail: str = "") -> None:
        self.name = name
        self.detail = detail
        super().__init__(f"{name} is not available{': ' + detail if detail else ''}")


# --------------------------------------------------------------------------- library lookup


def library(dotted: str) -> Callable[..., Any]:
    """The evalkit function named ``module.function``, or :class:`LibraryMissing`."""
    module, _, attr = dotted.rpartition(".")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise LibraryMissing(dotted) from None
        raise LibraryMissing(dotted, f"importing {module} failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a module being written may fail to import; the page must not crash
        raise LibraryMissing(dotted, f"importing {module} failed: {type(exc).__name__}: {exc}") from None
    fn = getattr(mod, attr, None)
    if fn is None:
        raise LibraryMissing(dotted)
    return fn


def available(dotted: str) -> bool:
    """Whether :func:`library` finds the function."""
    try:
        library(dotted)
    except LibraryMissing:
        return False
    return True


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices (``None`` = no restriction)."""

    programmes: tuple[str, ...] | None = None
    formats: tuple[str, ...] | None = None
    instruments: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None

    @property
    def date_range(self) -> tuple[str | None, str | None] | None:
        if self.date_from is None and self.date_to is None:
            return None
        return (self.date_from, self.date_to)


@dataclass(frozen=True)
class Context:
    """Everything a page's data depend on; its parts are the cache keys."""

    url: str
    scope: Scope
    filters: Filters = Filters()
    rules: PairingRules = PairingRules()

    @property
    def scope_key(self) -> ScopeKey:
        return scope_key(self.scope)

    @property
    def rules_key(self) -> str:
        return json.dumps(self.rules.to_dict(), sort_keys=True)

    @property
    def role(self) -> str:
        return self.scope.role

    @property
    def individual(self) -> bool:
        return self.scope.role in INDIVIDUAL_ROLES


def scope_key(scope: Scope) -> ScopeKey:
    """A hashable, order-free key of a scope (role, providers, programmes)."""
    return (scope.role, tuple(sorted(scope.providers)), tuple(sorted(scope.programmes)))


def scope_from_key(key: ScopeKey) -> Scope:
    role, providers, programmes = key
    return Scope(role, providers=frozenset(providers), programmes=frozenset(programmes))  # type: ignore[arg-type]


def db_url() -> str:
    """The database URL from ``EVALKIT_DB_URL`` (else ``./evalkit.sqlite``), as evalkit resolves it."""
    from evalkit.store import resolve_db_url

    return resolve_db_url(None)


# --------------------------------------------------------------------------- store


@st.cache_resource(show_spinner=False)
def store(url: str):  # noqa: ANN201 - evalkit.store.Store
    """The open store for a URL (one engine per URL, shared: holds no user data)."""
    from evalkit.store import open_store

    return open_store(url)


def clear_caches() -> None:
    """Empty every cache of data and results (the shared tables and outcomes, and the per-call results).

    The store's engines (:func:`store`) are kept: they hold no data.
    """
    from dashboards import ui

    st.cache_data.clear()
    _tables_but_contacts.clear()
    _episode_data.clear()
    _participant_path.clear()
    _outcomes.clear()
    _talking_therapies.clear()
    _conversations.clear()
    _safety_list.clear()
    ui._drawn.clear()


def version(url: str) -> str:
    """The data version token (changes with every upload and rollback); not cached on purpose."""
    from evalkit.store import data_version

    return data_version(store(url))


def require_role(ctx: Context, roles: Iterable[str], what: str) -> None:
    """Raise :class:`AccessDenied` unless the context's role is one of ``roles``."""
    roles = tuple(roles)
    if ctx.role not in roles:
        raise AccessDenied(f"{what} is for the {', '.join(roles)} role(s) only; you are signed in as {ctx.role}")


@st.cache_data(show_spinner=False, max_entries=16)
def _programmes(url: str, data_version: str, key: ScopeKey) -> pd.DataFrame:
    from evalkit.store import load_tables

    return load_tables(store(url), scope_from_key(key), tables=["programmes"])["programmes"]


def programmes(ctx: Context) -> pd.DataFrame:
    """The programmes the user may see (empty for a researcher: no individual-level access)."""
    if not ctx.individual:
        return pd.DataFrame(columns=["programme_id", "name", "provider", "format"])
    return _programmes(ctx.url, version(ctx.url), ctx.scope_key)


def selected_programmes(ctx: Context) -> tuple[str, ...] | None:
    """Programme ids after the programme and format filters (``None`` = every visible programme)."""
    f = ctx.filters
    if f.programmes is None and f.formats is None:
        return None
    progs = programmes(ctx)
    keep = pd.Series(True, index=progs.index)
    if f.programmes is not None:
        keep &= progs["programme_id"].isin(f.programmes)
    if f.formats is not None:
        keep &= progs["format"].isin(f.formats)
    return tuple(sorted(progs.loc[keep, "programme_id"].astype(str)))


SHARED_ENTRIES = 8
"""How many (data version, scope, filters[, rules]) keys of the shared tables and outcome results are kept."""


def _load(url: str, key: ScopeKey, progs: tuple[str, ...] | None,
          date_range: tuple[str | None, str | None] | None, names: list[str]) -> dict[str, pd.DataFrame]:
    """``names`` of the scoped tables, as :func:`evalkit.store.load_tables` loads them (each table's query is its
    own, so a table loaded alone is the same frame as loaded with the others)."""
    from evalkit.store import load_tables

    return load_tables(store(url), scope_from_key(key), programmes=progs, date_range=date_range, tables=names,
                       provenance=False)


def _with_contacts(base: Mapping[str, pd.DataFrame], contacts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The tables of ``base`` and the contacts, in load order (as :func:`evalkit.store.load_tables` gives them)."""
    from evalkit.schemas import TABLE_NAMES

    return {t: contacts if t == "contacts" else base[t] for t in TABLE_NAMES if t == "contacts" or t in base}


@st.cache_resource(show_spinner="Loading data ...", max_entries=SHARED_ENTRIES)
def _tables_but_contacts(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
                         date_range: tuple[str | None, str | None] | None) -> dict[str, pd.DataFrame]:
    """The scoped tables but the contacts, loaded once per key and shared (read-only by convention)."""
    from evalkit.schemas import TABLE_NAMES

    return _load(url, key, progs, date_range, [t for t in TABLE_NAMES if t != "contacts"])


_HELD_CONTACTS: weakref.WeakValueDictionary[tuple[Any, ...], pd.DataFrame] = weakref.WeakValueDictionary()
"""The contacts loaded by key, for as long as anything holds them (a page's run, or episodes being prepared):
whoever asks for the same key meanwhile reads those instead of loading them again."""

_RUN = threading.local()
"""What the page running in this thread holds until its run ends (:func:`page_run`): ``contacts`` by key."""


@contextlib.contextmanager
def page_run() -> Iterator[None]:
    """Hold the contacts a page loads for as long as its run lasts, and no longer.

    The contacts are the largest table: at a million participants of issue #8's volume, 10.6 million rows and
    1.3 GB of the 2.5 GB the tables take. No shared result keeps them. The episodes read them and let go of
    them (:func:`_episode_data`), and compute ahead the tables that Engagement shows from them
    (:data:`AHEAD_OF_EPISODES`). A page that computes from the whole tables (What works, Compare) loads them
    once in its run; every call in that run shares those, and they are let go of when the run ends. The
    router wraps each page's run in this (Streamlit runs each session's script in a thread of its own).
    """
    _RUN.contacts = {}
    try:
        yield
    finally:
        _RUN.contacts = None


def _contacts(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
              date_range: tuple[str | None, str | None] | None) -> pd.DataFrame:
    """The scoped contacts: those already held for the key (:data:`_HELD_CONTACTS`), or loaded now. Held by the
    page's run when there is one (:func:`page_run`); a call outside a page's run holds them only while it uses
    them."""
    held = (url, data_version, key, progs, date_range)
    contacts = _HELD_CONTACTS.get(held)
    if contacts is None:
        contacts = _load(url, key, progs, date_range, ["contacts"])["contacts"]
        _HELD_CONTACTS[held] = contacts
    run = getattr(_RUN, "contacts", None)
    if run is not None:
        run[held] = contacts
    return contacts


def _tables(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
            date_range: tuple[str | None, str | None] | None) -> dict[str, pd.DataFrame]:
    """The scoped tables, loaded once per key and shared (read-only by convention: see :func:`_isolated`).

    Without the provenance columns: every page computes from these, and no analysis uses where a row came
    from (the upload and quarantine pages read their own). The contacts are not shared: see :func:`page_run`."""
    return _with_contacts(_tables_but_contacts(url, data_version, key, progs, date_range),
                          _contacts(url, data_version, key, progs, date_range))


def _isolated(obj: Any) -> Any:
    """A copy of a shared result that a page may change freely without changing the shared one.

    Frames are copied shallowly: under pandas' copy-on-write, writing to the
    copy (a new column, an in-place edit) copies the data first, so the shared
    frame never changes; no data are copied when nothing is written. Frozen
    dataclasses (``OutcomeResult``, ``EpisodeData``) and dicts are rebuilt with
    their frames copied the same way.
    """
    if isinstance(obj, pd.DataFrame | pd.Series):
        out = obj.copy(deep=False)
        out.attrs = dict(obj.attrs)
        return out
    if isinstance(obj, dict):
        return {k: _isolated(v) for k, v in obj.items()}
    if isinstance(obj, Noted):
        return Noted(_isolated(obj.value), obj.notes)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.init and (isinstance(value, pd.DataFrame | pd.Series | dict)
                           or (dataclasses.is_dataclass(value) and not isinstance(value, type))):
                changes[f.name] = _isolated(value)
        return dataclasses.replace(obj, **changes) if changes else obj
    return obj


def tables(ctx: Context) -> dict[str, pd.DataFrame]:
    """The canonical tables the user may see, filtered (raises AccessDenied for a researcher)."""
    ctx.scope.require_individual_rows()
    return _isolated(_tables(ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx),
                             ctx.filters.date_range))


# --------------------------------------------------------------------------- analyses (library calls only)


@dataclass(frozen=True)
class Noted:
    """A library result and the domain warnings it raised (shown to the user as notes, never as errors)."""

    value: Any
    notes: tuple[str, ...] = ()


def _noted(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Noted:
    """Call a library function, collecting evalkit's warnings (small samples, approximations) as notes."""
    from evalkit.errors import EvalkitWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EvalkitWarning)
        value = fn(*args, **kwargs)
    notes = tuple(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, EvalkitWarning)))
    others = [w for w in caught if not issubclass(w.category, EvalkitWarning)]
    for w in others:  # anything else goes back to the normal warning machinery
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return Noted(value, notes)


def _show(noted: Noted) -> Any:
    for note in noted.notes:
        st.caption(f":material/info: {note}")
    return noted.value


def _rules(rules_key: str) -> PairingRules:
    return PairingRules.from_dict(json.loads(rules_key))


@st.cache_data(show_spinner="Calculating ...", max_entries=64)
def _analysis(dotted: str, url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
              date_range: tuple[str | None, str | None] | None, rules_key: str | None, kwargs_key: str) -> Noted:
    fn = library(dotted)
    frames = _tables(url, data_version, key, progs, date_range)
    kwargs = json.loads(kwargs_key)
    if rules_key is not None:
        kwargs["rules"] = _rules(rules_key)
    return _noted(fn, frames, **kwargs)


def analysis(ctx: Context, dotted: str, *, rules: bool = True, **kwargs: Any) -> Any:
    """Call an evalkit function ``fn(tables, rules=..., **kwargs)`` on the user's scoped tables, cached.

    The cache key holds the database URL, data version, scope, filters, rules
    and the keyword arguments (which must be JSON-serialisable). evalkit's
    warnings are shown as notes.
    """
    ctx.scope.require_individual_rows()
    library(dotted)  # fail fast (and uncached) when it is missing
    return _show(_analysis(dotted, ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx),
                           ctx.filters.date_range, ctx.rules_key if rules else None,
                           _kwargs_key(kwargs)))


AHEAD_OF_EPISODES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("evalkit.engagement.attendance_summary", {}),
    ("evalkit.engagement.head_counts", {}),
    ("evalkit.engagement.head_counts", {"per_session": True}),
)
"""The calls ``fn(tables, rules=rules, **kwargs)`` that :func:`derived` makes with ``source="tables"`` for Engagement
and the Report page, made when the episodes are prepared, while the contacts are in hand (:func:`_episode_data`):
they read the contacts, and made later they would load them again."""


@dataclass(frozen=True)
class Prepared(Noted):
    """The prepared episodes and their notes, and the calls of :data:`AHEAD_OF_EPISODES` made with them: by
    ``(function, keyword arguments as JSON)``, each call's result and notes, or the error it raised."""

    ahead: Mapping[tuple[str, str], Noted | Exception] = dataclasses.field(default_factory=dict)


def _kwargs_key(kwargs: Mapping[str, Any]) -> str:
    """The keyword arguments of a cached call as its cache key (JSON)."""
    return json.dumps(kwargs, sort_keys=True, default=str)


def _made_ahead(dotted: str, frames: Mapping[str, pd.DataFrame], rules: PairingRules,
                kwargs: Mapping[str, Any]) -> Noted | Exception:
    """``dotted(frames, rules=rules, **kwargs)`` with its notes, or the error it raised (raised again where the
    result is asked for, as it would have been raised had it been made there)."""
    try:
        return _noted(library(dotted), frames, rules=rules, **kwargs)
    except Exception as exc:  # noqa: BLE001 - kept and raised where the page asks for this table
        return exc


@st.cache_resource(show_spinner="Preparing episodes ...", max_entries=SHARED_ENTRIES)
def _episode_data(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
                  date_range: tuple[str | None, str | None] | None, rules_key: str) -> Prepared:
    """The scoped tables' :class:`~evalkit.episodes.EpisodeData` under the rules, prepared once per key and
    shared: the outcomes are computed from it, and pages that need only the episodes and paths (Engagement)
    do not wait for the outcomes. With it, the calls of :data:`AHEAD_OF_EPISODES`."""
    prepare = library("evalkit.episodes.prepare_episodes")
    base = _tables_but_contacts(url, data_version, key, progs, date_range)
    # the contacts are read here and let go of (release_contacts) unless a page's run holds them already
    # (page_run): the pages that show outcomes need nothing else of them, and at a million participants of issue
    # #8's volume they are 1.3 GB of the 4.4 GB that the tables, the episodes, the outcomes and the paths took
    contacts = _HELD_CONTACTS.get((url, data_version, key, progs, date_range))
    if contacts is None:
        contacts = _load(url, key, progs, date_range, ["contacts"])["contacts"]
    frames = _with_contacts(base, contacts)
    del contacts
    rules = _rules(rules_key)
    ahead = {(dotted, _kwargs_key(kwargs)): _made_ahead(dotted, frames, rules, kwargs)
             for dotted, kwargs in AHEAD_OF_EPISODES if available(dotted)}
    # no page reads the attended contacts (EpisodeData.attended): not kept, as evaluate_outcomes does not
    done = _noted(prepare, frames, rules=rules, keep_attended=False, release_contacts=True)
    return Prepared(done.value, done.notes, ahead=ahead)


@st.cache_resource(show_spinner="Following each mother through the funnel ...", max_entries=SHARED_ENTRIES)
def _participant_path(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
                      date_range: tuple[str | None, str | None] | None, rules_key: str) -> Noted:
    """:func:`evalkit.engagement.participant_path` of the shared episodes, made once per key and shared: the
    funnel, its reasons, the take-up rate and the endings are all computed from it (``source="path"``), so a
    page showing several of them does not follow every mother through the funnel again for each. Its notes
    are the path's own (the episodes' are the outcomes')."""
    follow = library("evalkit.engagement.participant_path")
    prepared = _episode_data(url, data_version, key, progs, date_range, rules_key)
    return _noted(follow, prepared.value, rules=_rules(rules_key))


@st.cache_resource(show_spinner="Calculating outcomes ...", max_entries=SHARED_ENTRIES)
def _outcomes(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
              date_range: tuple[str | None, str | None] | None, rules_key: str) -> Noted:
    evaluate = library("evalkit.outcomes.evaluate_outcomes")
    prepared = _episode_data(url, data_version, key, progs, date_range, rules_key)
    # without the Talking Therapies rates: no page's first view shows them (:func:`talking_therapies` makes
    # them from this result when the report tables ask)
    done = _noted(evaluate, prepared.value, rules=_rules(rules_key), models=False, talking_therapies=False)
    return Noted(done.value, tuple(dict.fromkeys(prepared.notes + done.notes)))


@st.cache_resource(show_spinner="Calculating the Talking Therapies rates ...", max_entries=SHARED_ENTRIES)
def _talking_therapies(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
                       date_range: tuple[str | None, str | None] | None, rules_key: str) -> Noted:
    """:func:`evalkit.outcomes.outcome_talking_therapies` of the shared outcome result, made once per key and
    shared (the result leaves them out: only the report tables show them)."""
    rates = library(TALKING_THERAPIES)
    return _noted(rates, _outcomes(url, data_version, key, progs, date_range, rules_key).value)


def outcomes(ctx: Context) -> Any:
    """:func:`evalkit.outcomes.evaluate_outcomes` (without the slow models) for the user's scope and filters.

    Holds the individual-level ``changes`` (provider, evaluator, admin only:
    a researcher's scope is refused when the tables are loaded) and the
    disclosure-controlled ``summary``, ``dose_sensitivity``, ``recovery``; its
    ``talking_therapies`` is ``None`` (they are :func:`talking_therapies`).
    """
    ctx.scope.require_individual_rows()
    return _isolated(_show(_outcomes(ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx),
                                     ctx.filters.date_range, ctx.rules_key)))


TALKING_THERAPIES = "evalkit.outcomes.outcome_talking_therapies"
"""Library function giving the NHS Talking Therapies-style rates of an outcome result, as
:func:`evalkit.outcomes.evaluate_outcomes` publishes them."""


def talking_therapies(ctx: Context) -> pd.DataFrame:
    """The NHS Talking Therapies-style rates per programme and measure set (disclosure-controlled), computed
    from the shared outcome result the first time they are asked for and kept under the same keys."""
    ctx.scope.require_individual_rows()
    return _isolated(_show(_talking_therapies(ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx),
                                              ctx.filters.date_range, ctx.rules_key)))


@st.cache_data(show_spinner="Fitting the mixed models and imputing (this can take a minute) ...", max_entries=32)
def _outcome_models(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
                    date_range: tuple[str | None, str | None] | None, rules_key: str,
                    instrument: str | None = None) -> Noted:
    result = _outcomes(url, data_version, key, progs, date_range, rules_key).value
    # outcome_summary(result.data, models=True) without pairing and summarising again: only the models are fitted,
    # and only for the questionnaire on screen (its rows are the whole summary's)
    return _noted(result.summary_with_models, instruments=None if instrument is None else [instrument])


def outcome_models(ctx: Context, instrument: str | None = None) -> pd.DataFrame:
    """The outcome summary with the mixed-model and multiple-imputation estimates (slow; cached).

    ``instrument``: only that questionnaire's rows (and models); default all.
    """
    ctx.scope.require_individual_rows()
    return _show(_outcome_models(ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx),
                                 ctx.filters.date_range, ctx.rules_key, instrument))


@st.cache_data(show_spinner="Calculating ...", max_entries=64)
def _derived(dotted: str, source: str, url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
             date_range: tuple[str | None, str | None] | None, rules_key: str, kwargs_key: str) -> Noted:
    fn = library(dotted)
    kwargs = json.loads(kwargs_key)
    # only what the source needs is computed: the outcomes for the result, the episodes for their data
    if source == "tables":
        made = _episode_data(url, data_version, key, progs, date_range, rules_key).ahead.get((dotted, kwargs_key)) \
            if (dotted, kwargs) in AHEAD_OF_EPISODES else None
        if isinstance(made, Exception):
            raise made
        if made is not None:
            return made
        return _noted(fn, _tables(url, data_version, key, progs, date_range), rules=_rules(rules_key), **kwargs)
    if source == "data":
        return _noted(fn, _episode_data(url, data_version, key, progs, date_range, rules_key).value,
                      rules=_rules(rules_key), **kwargs)
    if source == "path":  # the notes the path raised (once, when it was made), then the function's
        if "instruments" in kwargs:  # the shared path is made with the installed instruments
            raise ValueError("source='path' uses the shared participant path, made with the installed instruments; "
                             "pass source='data' to give other instruments")
        path = _participant_path(url, data_version, key, progs, date_range, rules_key)
        done = _noted(fn, path.value, rules=_rules(rules_key), **kwargs)
        return Noted(done.value, tuple(dict.fromkeys(path.notes + done.notes)))
    res = _outcomes(url, data_version, key, progs, date_range, rules_key).value
    if source != "result":
        raise ValueError(f"source must be 'result', 'data', 'path' or 'tables', not {source!r}")
    return _noted(fn, res, rules=_rules(rules_key), **kwargs)


def derived(ctx: Context, dotted: str, *, source: str = "data", **kwargs: Any) -> Any:
    """Call an evalkit function on the cached outcome result rather than the raw tables (faster).

    ``source`` is what is passed first: ``"result"`` (the
    :class:`~evalkit.outcomes.OutcomeResult`), ``"data"`` (its
    :class:`~evalkit.episodes.EpisodeData`), ``"path"`` (the shared
    :func:`evalkit.engagement.participant_path` of those episodes),
    or ``"tables"`` (the scoped tables). Cached under the same keys as
    :func:`outcomes` plus the keyword arguments.
    """
    ctx.scope.require_individual_rows()
    library(dotted)
    return _show(_derived(dotted, source, ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx),
                          ctx.filters.date_range, ctx.rules_key, _kwargs_key(kwargs)))


def result_key(ctx: Context) -> tuple[Any, ...]:
    """Everything :func:`outcomes` and :func:`tables` depend on (database, data version, scope, filters,
    rules): a key for keeping what a page derives from them."""
    ctx.scope.require_individual_rows()
    return (ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx), ctx.filters.date_range,
            ctx.rules_key)


def episode_changes(ctx: Context) -> pd.DataFrame:
    """Episodes with change columns (individual level), from :func:`outcomes`."""
    return outcomes(ctx).changes


def instrument(code: str):  # noqa: ANN201 - evalkit.instruments.Instrument
    """The instrument's metadata (cut-offs, direction, range) from the registry."""
    from evalkit.instruments import get_instrument

    return get_instrument(code)


def instrument_options(roles: Iterable[str] | None = None) -> dict[str, str]:
    """Change-measure instruments ``code -> name`` of the registry (optionally only some roles)."""
    from evalkit.instruments import builtin_instruments

    out = {}
    for code, inst in builtin_instruments().items():
        if inst.is_change_measure and (roles is None or inst.role in tuple(roles)):
            out[code] = inst.name
    return out


# --------------------------------------------------------------------------- researcher: aggregates only

SUMMARY_FROM_STORE = "evalkit.summary.summary_from_store"
"""Library function that builds disclosure-controlled summaries from the store under a scope (researchers too)."""


def aggregate_summary(ctx: Context) -> Any:
    """The :class:`evalkit.summary.Summary` of the programmes the user may count, for any role.

    Roles with individual-level access get it from their scoped tables
    (:func:`evalkit.summary.build_summary`). A researcher gets it from
    :data:`SUMMARY_FROM_STORE`, which aggregates inside the library so that no
    individual row reaches the dashboard.
    """
    if ctx.individual:
        ctx.scope.require_individual_rows()
        library(BUILD_SUMMARY)
        return _show(_summary(ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx),
                              ctx.filters.date_range, ctx.rules_key))
    library(SUMMARY_FROM_STORE)
    return _show(_aggregates(ctx.url, version(ctx.url), ctx.scope_key, ctx.rules_key, ctx.filters.date_range))


BUILD_SUMMARY = "evalkit.summary.build_summary"
"""Library function that builds the disclosure-controlled summary of tables (roles with individual-level access)."""


@st.cache_data(show_spinner="Summarising ...", max_entries=16)
def _summary(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
             date_range: tuple[str | None, str | None] | None, rules_key: str) -> Noted:
    """:data:`BUILD_SUMMARY` of the scoped tables, given the shared prepared episodes (:func:`_episode_data`)
    so that it does not prepare them again; with the episodes' notes, then its own."""
    build = library(BUILD_SUMMARY)
    # the tables first: the episodes, when not prepared yet, then read the contacts the page's run holds for the
    # summary, instead of loading their own and letting go of them
    frames = _tables(url, data_version, key, progs, date_range)
    prepared = _episode_data(url, data_version, key, progs, date_range, rules_key)
    done = _noted(build, frames, rules=_rules(rules_key), episodes=prepared.value)
    return Noted(done.value, tuple(dict.fromkeys(prepared.notes + done.notes)))


@st.cache_data(show_spinner="Summarising ...", max_entries=8)
def _aggregates(url: str, data_version: str, key: ScopeKey, rules_key: str,
                date_range: tuple[str | None, str | None] | None) -> Noted:
    fn = library(SUMMARY_FROM_STORE)
    return _noted(fn, store(url), scope_from_key(key), rules=_rules(rules_key), date_range=date_range)


# --------------------------------------------------------------------------- uploads


@dataclass
class CheckedUpload:
    """Files read and checked, per provider, waiting for the user to store them."""

    file_names: tuple[str, ...]
    sha256: str
    parts: dict[str, Any]  # provider -> ValidationResult
    report: pd.DataFrame
    summary: pd.DataFrame
    read_error: str | None = None

    @property
    def n_errors(self) -> int:
        return int((self.report["severity"] == "error").sum()) if len(self.report) else 0

    @property
    def n_warnings(self) -> int:
        return int((self.report["severity"] == "warning").sum()) if len(self.report) else 0

    @property
    def n_valid(self) -> int:
        return int(self.summary["rows_valid"].sum()) if len(self.summary) else 0


def upload_providers(ctx: Context) -> list[str]:
    """Providers the user may upload for: a provider's own; for an admin every stored one."""
    require_role(ctx, UPLOAD_ROLES, "Uploading")
    if ctx.role == "provider":
        return sorted(ctx.scope.providers)
    progs = programmes(ctx)
    return sorted(set(progs["provider"].dropna().astype(str)))


def read_uploaded(files: list[tuple[str, bytes]], progress: Callable[[float, str], None] | None = None,
                  *, mapping: Any = None) -> dict[str, pd.DataFrame]:
    """Read uploaded files (name, bytes) with :func:`evalkit.readers.read_files` (via a private temp folder).

    ``mapping``: a column or one-row-per-mother mapping (from the mapping step) applied to every file.
    """
    from evalkit.readers import read_files

    with tempfile.TemporaryDirectory(prefix="evalkit-upload-") as tmp:
        paths = []
        for i, (name, data) in enumerate(files):
            safe = Path(name).name or f"upload-{i}"
            folder = Path(tmp) / str(i)
            folder.mkdir()
            path = folder / safe
            path.write_bytes(data)
            paths.append(path)
        raw: dict[str, list[pd.DataFrame]] = {}
        for i, path in enumerate(paths):
            if progress:
                progress(0.05 + 0.35 * i / max(len(paths), 1), f"Reading {path.name}")
            for table, frame in read_files([path], mapping=mapping).items():
                raw.setdefault(table, []).append(frame)
        out = {}
        for table, frames in raw.items():
            combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            combined.attrs = {}
            for f in frames:  # readers' notes (unknown columns, ...) travel in attrs
                for k, v in f.attrs.items():
                    if isinstance(v, list):
                        combined.attrs.setdefault(k, []).extend(v)
                    elif k not in combined.attrs:
                        combined.attrs[k] = v
            out[table] = combined
        return out


def check_upload(ctx: Context, files: list[tuple[str, bytes]], *, provider: str | None,
                 progress: Callable[[float, str], None] | None = None, mapping: Any = None) -> CheckedUpload:
    """Read, split by provider (admin), pseudonymise and validate uploaded files; nothing is stored.

    ``provider=None`` (admin only) files each row under its programme's provider. ``mapping``: the mapping
    the user accepted in the mapping step (:func:`upload_mapping`), used to read the files.
    """
    import hashlib

    from evalkit.ingest import check_upload as _check
    from evalkit.ingest import split_raw_by_provider
    from evalkit.validation import validation_summary

    require_role(ctx, UPLOAD_ROLES, "Uploading")
    allowed = upload_providers(ctx)
    if ctx.role == "provider":
        if provider is None:
            provider = allowed[0]
        if provider not in allowed:
            raise AccessDenied(f"you may upload only for {allowed}; got {provider!r}")
    sha = ",".join(hashlib.sha256(data).hexdigest() for _, data in files)
    names = tuple(Path(n).name for n, _ in files)
    raw = read_uploaded(files, progress, mapping=mapping)
    if provider is not None:
        parts_raw = {provider: raw}
    else:
        from evalkit.store import load_tables

        stored = load_tables(store(ctx.url), ctx.scope, tables=["programmes"])["programmes"]
        parts_raw = split_raw_by_provider(raw, stored_programmes=stored)
        if not parts_raw:
            raise ValueError("no programme in the files or the database names a provider; choose the provider "
                             "to upload as")
    parts, reports, summaries = {}, [], []
    for i, (who, frames) in enumerate(parts_raw.items()):
        if progress:
            progress(0.4 + 0.5 * i / max(len(parts_raw), 1), f"Checking {who}'s rows")
        result = _check(frames, store(ctx.url), who, name_other_providers=ctx.role != "provider")
        parts[who] = result
        rep = result.report.copy()
        rep.insert(0, "provider", who)
        reports.append(rep)
        summ = validation_summary(result)
        summ.insert(0, "provider", who)
        summaries.append(summ)
    if progress:
        progress(1.0, "Checked")
    report = pd.concat(reports, ignore_index=True) if reports else pd.DataFrame()
    summary = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    return CheckedUpload(names, sha, parts, report, summary)


def store_upload(ctx: Context, checked: CheckedUpload, *, user: str | None,
                 progress: Callable[[float, str], None] | None = None, resolves: int | None = None) -> pd.DataFrame:
    """Ingest every provider's part of a checked upload, all in one transaction; returns the per-table summary rows.

    Either every provider's part is stored or none (:func:`evalkit.ingest.ingest_parts`).
    """
    from evalkit.ingest import ingest_parts

    require_role(ctx, UPLOAD_ROLES, "Uploading")
    allowed = set(upload_providers(ctx)) if ctx.role == "provider" else None
    for who in checked.parts:
        if allowed is not None and who not in allowed:
            raise AccessDenied(f"you may upload only for {sorted(allowed)}; got {who!r}")
    file_name = "; ".join(checked.file_names)
    summaries = ingest_parts(checked.parts, store(ctx.url), file_name=file_name, sha256=checked.sha256,
                             user=user, progress=progress, resolves=resolves)
    frames = []
    for who, summary in summaries.items():
        frame = summary.to_frame()
        frame.insert(0, "upload_id", summary.upload_id)
        frame.insert(0, "provider", who)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# --------------------------------------------------------------------------- the mapping step (as 'evalkit map')

MAPPABLE = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
"""Files the mapping step reads (spreadsheets); other files (FHIR JSON) go straight to checking."""


def _single_sheet(path: Path) -> bool:
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return True
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True)
    except Exception:  # noqa: BLE001 - an unreadable workbook is reported by the readers when checked
        return True
    try:
        return len(wb.sheetnames) == 1
    finally:
        wb.close()


def _headers_are_canonical(proposal: Any) -> bool:
    """Every header of a one-table sheet is a column name of its table (so no mapping step is needed).

    Judged by the table's schema, not by the proposal's roles: the proposal may flag a canonical column
    (e.g. the programmes table's ``name``) as identifying, which the ordinary readers handle.
    """
    from evalkit.canonical import PROVENANCE_COLUMNS
    from evalkit.schemas import table_schema

    if proposal.layout != "table" or not proposal.table:
        return False
    schema = table_schema(proposal.table)
    known = {*schema.field_names, *PROVENANCE_COLUMNS}
    headers = [str(h).strip() for h in proposal.columns["header"]]
    return bool(headers) and all(h in known or schema.is_item_column(h) for h in headers)


def load_saved_mapping(name: str, body: bytes) -> Any:
    """A mapping saved from the mapping step or by ``evalkit map -o`` (column or one-row-per-mother)."""
    from evalkit.readers import load_mapping
    from evalkit.readers.redcap import RedcapMapping

    with tempfile.TemporaryDirectory(prefix="evalkit-mapping-") as tmp:
        path = Path(tmp) / (Path(name).name or "mapping.json")
        path.write_bytes(body)
        mapping = load_mapping(path)
    if isinstance(mapping, RedcapMapping):
        raise ValueError(f"{Path(name).name} is a REDCap mapping; the mapping step works on spreadsheets")
    return mapping


def upload_mapping(files: list[tuple[str, bytes]], *, saved: Any = None, programme_id: str | None = None
                   ) -> Any:
    """The mapping step of an upload, as ``evalkit map``: a proposal, or ``None`` when no mapping is needed.

    A mapping is proposed (:func:`evalkit.mapping_proposal.propose_mapping`) when exactly one spreadsheet
    is uploaded and it is a one-row-per-mother sheet, or a one-sheet table whose headers are not all
    evalkit's column names. ``saved``: a mapping saved last time (its choices are kept). Nothing is stored.
    Returns the :class:`~evalkit.mapping_proposal.MappingProposal` (it keeps the cells it read, so the
    preview needs no file), or ``None`` (several files, another kind of file, canonical headers, or a file
    the readers will report as unreadable when it is checked).
    """
    from evalkit.errors import InputFileError
    from evalkit.mapping_proposal import propose_mapping
    from evalkit.readers.wide import looks_wide

    if len(files) != 1:
        return None
    name, body = files[0]
    safe = Path(name).name or "upload"
    if Path(safe).suffix.lower() not in MAPPABLE:
        return None
    with tempfile.TemporaryDirectory(prefix="evalkit-upload-") as tmp:
        path = Path(tmp) / safe
        path.write_bytes(body)
        wide = looks_wide(path)
        if not wide and saved is None and not _single_sheet(path):
            return None  # a workbook with a sheet per table: the ordinary readers
        try:
            proposal = propose_mapping(path, programme_id=programme_id or None, mapping=saved)
        except InputFileError:
            if saved is not None:
                raise
            return None
    if saved is None and _headers_are_canonical(proposal):
        return None
    return proposal


def mapping_preview(ctx: Context, proposal: Any, *, provider: str | None, n: int = 10) -> dict[str, pd.DataFrame]:
    """The first ``n`` rows of each table as they will be stored (real pseudonyms when the provider is known).

    The secret is the one an upload into this database would use (:func:`evalkit.ingest.secret_for_store`): a
    database holding uploads with no key configured refuses the preview too, instead of writing a new key.
    """
    if provider:
        from evalkit.ingest import secret_for_store

        return proposal.preview(n, secret=secret_for_store(store(ctx.url)), provider=provider)
    return proposal.preview(n)


def mapping_json(proposal: Any) -> bytes:
    """The proposed mapping as the JSON file ``evalkit map -o`` saves (to reuse next month)."""
    with tempfile.TemporaryDirectory(prefix="evalkit-mapping-") as tmp:
        return proposal.save(Path(tmp) / "mapping.json").read_bytes()


def uploads(ctx: Context) -> pd.DataFrame:
    """Upload history the user may see, newest first (not cached: it is small and must be current)."""
    from evalkit.store import list_uploads

    require_role(ctx, INDIVIDUAL_ROLES, "Upload history")
    return list_uploads(store(ctx.url), ctx.scope)


def quarantine(ctx: Context, *, upload_id: int | None = None) -> dict[str, pd.DataFrame]:
    """Open quarantined rows per table the user may see."""
    from evalkit.store import quarantine_rows

    require_role(ctx, UPLOAD_ROLES, "The quarantine list")
    return quarantine_rows(store(ctx.url), ctx.scope, upload_id=upload_id, status="open")


def resubmit_rows(ctx: Context, upload_id: int, corrected: Mapping[str, pd.DataFrame], *, user: str | None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Re-check corrected quarantined rows and store them as a re-submission of ``upload_id``.

    Returns the summary rows and the validation report of the corrected rows.
    """
    from evalkit.canonical import PROVENANCE_COLUMNS
    from evalkit.ingest import check_upload as _check
    from evalkit.ingest import resubmit
    from evalkit.store import QUARANTINE_COLUMNS

    require_role(ctx, UPLOAD_ROLES, "Re-submitting")
    hist = uploads(ctx)
    row = hist[hist["upload_id"] == upload_id]
    if row.empty:
        raise AccessDenied(f"upload {upload_id} is not one of yours")
    provider = str(row["provider"].iloc[0])
    meta = [c for c in QUARANTINE_COLUMNS if c not in PROVENANCE_COLUMNS]
    raw = {}
    for table, frame in corrected.items():
        clean = frame.drop(columns=[c for c in meta if c in frame.columns]).astype("string")
        raw[table] = clean.reset_index(drop=True)
    result = _check(raw, store(ctx.url), provider, name_other_providers=ctx.role != "provider")
    body = json.dumps({t: f.astype(str).to_dict("list") for t, f in raw.items()}, sort_keys=True).encode()
    import hashlib

    summary = resubmit(result, store(ctx.url), upload_id=upload_id, provider=provider,
                       file_name=f"corrections to upload {upload_id}", sha256=hashlib.sha256(body).hexdigest(),
                       user=user)
    frame = summary.to_frame()
    frame.insert(0, "upload_id", summary.upload_id)
    return frame, result.report


def rollback(ctx: Context, upload_id: int) -> str:
    """Roll an upload back (the library checks it is the provider's newest and the user's own)."""
    from evalkit.ingest import rollback as _rollback

    require_role(ctx, UPLOAD_ROLES, "Rolling back")
    return str(_rollback(store(ctx.url), int(upload_id), scope=ctx.scope))


@st.cache_data(show_spinner=False)
def template_bytes(fmt: str) -> bytes:
    """A blank upload template from :func:`evalkit.templates.write_template` (``xlsx`` or a CSV ``zip``)."""
    write_template = library("evalkit.templates.write_template")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("evalkit-template.xlsx" if fmt == "xlsx" else "evalkit-template.zip")
        write_template(path, format="xlsx" if fmt == "xlsx" else "csv")
        return path.read_bytes()


def report_bytes(report: pd.DataFrame, fmt: str) -> bytes:
    """A validation report as CSV or XLSX bytes, written by evalkit (formula-safe cells)."""
    from evalkit.canonical import REPORT_COLUMNS
    from evalkit.validation import report_to_csv, report_to_xlsx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"report.{fmt}"
        (report_to_xlsx if fmt == "xlsx" else report_to_csv)(report.loc[:, list(REPORT_COLUMNS)], path)
        return path.read_bytes()


# --------------------------------------------------------------------------- exports


def frame_bytes(frame: pd.DataFrame, fmt: str, *, sheet: str = "table") -> bytes:
    """Any table as CSV (UTF-8 with BOM) or XLSX bytes, cells made formula-safe by evalkit."""
    from evalkit.safe_export import safe_frame

    safe = safe_frame(_exportable(frame))
    if fmt == "csv":
        return safe.to_csv(index=False).encode("utf-8-sig")
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        safe.to_excel(xl, index=False, sheet_name=sheet[:31] or "table")
    return buf.getvalue()


def _exportable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.tz_localize(None)
    return out


def as_frame(obj: Any) -> pd.DataFrame | None:
    """A library result as a frame: a DataFrame itself, ``.to_frame()``, ``.summary``, or a dataclass row."""
    if obj is None:
        return None
    if isinstance(obj, pd.DataFrame):
        return obj
    for attr in ("to_frame", "summary"):
        member = getattr(obj, attr, None)
        if callable(member):
            try:
                value = member()
            except TypeError:
                continue
            if isinstance(value, pd.DataFrame):
                return value
        elif isinstance(member, pd.DataFrame):
            return member
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        row = {k: v for k, v in dataclasses.asdict(obj).items() if not hasattr(v, "__len__") or isinstance(v, str)}
        return pd.DataFrame([row])
    return None


def today() -> dt.date:
    return dt.date.today()


# --------------------------------------------------------------------------- role-restricted analyses


SAFETY_LIST = "evalkit.safety.safety_list"
"""Library function giving the safety follow-up list from the scored measures and the outcome result."""


@st.cache_resource(show_spinner="Listing the safety signals ...", max_entries=SHARED_ENTRIES)
def _safety_list(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
                 date_range: tuple[str | None, str | None] | None, rules_key: str) -> Noted:
    """:data:`SAFETY_LIST` of the shared outcome result's scored measures and changes, made once per key and
    shared (``st.cache_resource``: one object, not a pickled copy per call). At a million participants of
    issue #8's volume the list has some 640,000 rows: as a per-call result (``st.cache_data``) it was pickled
    when made and unpickled on every view. Its notes are its own (the outcome pages show the outcomes')."""
    fn = library(SAFETY_LIST)
    res = _outcomes(url, data_version, key, progs, date_range, rules_key).value
    return _noted(fn, res.data.scored_measures, res)


def safety_list(ctx: Context) -> Any:
    """The safety follow-up list (individual level, the provider's own staff and admins only).

    Shared per data version, scope, filters and rules (:func:`_safety_list`); the page gets a shallow copy
    (:func:`_isolated`), so nothing it does changes what another page or session sees.
    """
    require_role(ctx, SAFETY_ROLES, "The safety list")
    ctx.scope.require_individual_rows()
    library(SAFETY_LIST)  # fail fast (and uncached) when it is missing
    return _isolated(_show(_safety_list(ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx),
                                        ctx.filters.date_range, ctx.rules_key)))


CONVERSATIONS = "evalkit.mechanisms.responses_needing_conversation"
"""Library function listing the experience answers that need a conversation (individual level, for the provider's
own staff and admins)."""


def conversations(ctx: Context) -> pd.DataFrame:
    """:data:`CONVERSATIONS` of the user's scoped tables (the library refuses roles other than its own), made
    once per key and shared: it reads the whole tables, so each view of the page made afresh would load the
    contacts again (at a million participants, about 1.3 GB and a minute or more)."""
    require_role(ctx, SAFETY_ROLES, "The answers that need a conversation")
    ctx.scope.require_individual_rows()
    library(CONVERSATIONS)
    return _isolated(_show(_conversations(ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx),
                                          ctx.filters.date_range)))


@st.cache_resource(show_spinner="Finding the answers that need a conversation ...", max_entries=SHARED_ENTRIES)
def _conversations(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
                   date_range: tuple[str | None, str | None] | None) -> Noted:
    return _noted(library(CONVERSATIONS), _tables(url, data_version, key, progs, date_range), scope_from_key(key))


# --------------------------------------------------------------------------- comparing programmes and reports


def comparison_from_store(ctx: Context, **options: Any) -> Any:
    """:func:`evalkit.compare.compare_summaries` of the programmes in the database the user may count.

    ``options`` are those of ``compare_summaries`` (``instrument``, ``measure``,
    ``method``, ``by``, ``knha``); they must be JSON-serialisable (cache key).
    """
    if ctx.individual:
        # compare_from_tables(tables, rules, **options) is compare_summaries([build_summary(tables, rules)],
        # **options): the summary is built once per data key, and choosing another measure, questionnaire or
        # subgroup only compares again (fast).
        ctx.scope.require_individual_rows()
        library(BUILD_SUMMARY)
        library("evalkit.compare.compare_summaries")
        return _show(_comparison(ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx),
                                 ctx.filters.date_range, ctx.rules_key,
                                 json.dumps(options, sort_keys=True, default=str)))
    compare = library("evalkit.compare.compare_summaries")
    return compare([aggregate_summary(ctx)], **options)


@st.cache_data(show_spinner="Comparing ...", max_entries=64)
def _comparison(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
                date_range: tuple[str | None, str | None] | None, rules_key: str, options_key: str) -> Noted:
    """:func:`evalkit.compare.compare_summaries` of the scoped summary, with the notes of both calls."""
    summary = _summary(url, data_version, key, progs, date_range, rules_key)
    compared = _noted(library("evalkit.compare.compare_summaries"), [summary.value], **json.loads(options_key))
    return Noted(compared.value, tuple(dict.fromkeys((*summary.notes, *compared.notes))))


def read_summaries(files: list[tuple[str, bytes]]) -> list[Any]:
    """Summary files (uploaded bytes) read and checked by :func:`evalkit.summary.read_summary`."""
    read = library("evalkit.summary.read_summary")
    out = []
    with tempfile.TemporaryDirectory(prefix="evalkit-summaries-") as tmp:
        for i, (name, payload) in enumerate(files):
            path = Path(tmp) / str(i) / Path(name).name
            path.parent.mkdir()
            path.write_bytes(payload)
            out.append(read(path))
    return out


def comparison_from_files(files: list[tuple[str, bytes]], **options: Any) -> Any:
    """:func:`evalkit.compare.compare_summaries` of uploaded summary files (aggregates only; any role)."""
    compare = library("evalkit.compare.compare_summaries")
    return compare(read_summaries(files), **options)


REPORT = "evalkit.report.report_from_store"


def report(ctx: Context) -> ReportFiles:
    """The report (:class:`evalkit.report.Report`) of what the user may count, built inside the library (any role).

    :func:`evalkit.report.report_from_store` loads with the user's scope (a
    researcher's rows never leave the library; the report is aggregate), with
    the sidebar's programmes, dates and rules. Slow the first time (it fits
    the models); cached like every other result.
    """
    library(REPORT)
    return _show(_report(ctx.url, version(ctx.url), ctx.scope_key, selected_programmes(ctx), ctx.filters.date_range,
                         ctx.rules_key))


@dataclass(frozen=True)
class ReportFiles:
    """What the dashboard keeps of an :class:`evalkit.report.Report`: its files and provenance (picklable)."""

    html: str
    xlsx: bytes
    csv_zip: bytes
    title: str
    generated_at: str
    data_hash: str
    version: str
    notes: tuple[str, ...] = ()


@st.cache_data(show_spinner="Writing the report (this can take a minute) ...", max_entries=4)
def _report(url: str, data_version: str, key: ScopeKey, progs: tuple[str, ...] | None,
            date_range: tuple[str | None, str | None] | None, rules_key: str) -> Noted:
    fn = library(REPORT)
    noted = _noted(fn, store(url), scope_from_key(key), programmes=list(progs) if progs is not None else None,
                   date_range=date_range, rules=_rules(rules_key))
    rep = noted.value
    with tempfile.TemporaryDirectory() as tmp:
        xlsx = rep.to_xlsx(Path(tmp) / "report.xlsx").read_bytes()
        csv_zip = rep.to_csv_zip(Path(tmp) / "report.zip").read_bytes()
    files = ReportFiles(html=rep.html, xlsx=xlsx, csv_zip=csv_zip, title=rep.title, generated_at=rep.generated_at,
                        data_hash=rep.data_hash, version=rep.version, notes=tuple(rep.notes))
    return Noted(files, noted.notes)


FUNNEL_TABLES = "evalkit.engagement.funnel_tables"
"""Library function giving the take-up funnel, its reasons for leaving and the take-up rate from one disclosure
problem (:class:`evalkit.engagement.FunnelTables`)."""


def funnel_tables(ctx: Context) -> Any:
    """The take-up funnel (``.funnel``), its reasons for leaving (``.exits``) and the take-up rate
    (``.take_up_rate``) per programme, from :data:`FUNNEL_TABLES` on the shared participant path: the three
    tables' one disclosure problem is solved once per key, whichever of them a page shows first."""
    return derived(ctx, FUNNEL_TABLES, source="path")


REPORT_TABLES: dict[str, tuple[str, str, str | None]] = {
    "take_up_funnel": (FUNNEL_TABLES, "path", "funnel"),
    "funnel_exits": (FUNNEL_TABLES, "path", "exits"),
    "take_up_rate": (FUNNEL_TABLES, "path", "take_up_rate"),
    "attendance": ("evalkit.engagement.attendance_summary", "tables", None),
    "endings": ("evalkit.engagement.endings_summary", "path", None),
    "head_counts": ("evalkit.engagement.head_counts", "tables", None),
}
"""Further tables offered on the Report page when the installed library provides them: name -> (library
function, its ``source`` for :func:`derived`, the part of its result that is the table, or ``None`` for the
whole result)."""


def report_tables(ctx: Context) -> dict[str, Callable[[], pd.DataFrame | None]]:
    """Every aggregate table the library provides for the user's scope: name -> a call that computes it.

    Individual-level frames (episode changes, the safety list) are not offered here.
    """
    if not ctx.individual:
        return {"programme_summaries": lambda: aggregate_summary(ctx).programmes,
                "programme_results": lambda: aggregate_summary(ctx).results}
    out: dict[str, Callable[[], pd.DataFrame | None]] = {
        "outcome_summary": lambda: outcomes(ctx).summary,
        "recovery_from_within": lambda: outcomes(ctx).recovery,
        "dose_sensitivity": lambda: outcomes(ctx).dose_sensitivity,
        "talking_therapies_rates": lambda: talking_therapies(ctx),
        "instrument_parameters": lambda: outcomes(ctx).parameters,
        "trajectories": lambda: trajectories(ctx),
    }
    for name, (dotted, source, part) in REPORT_TABLES.items():
        if available(dotted):
            out[name] = lambda dotted=dotted, source=source, part=part: as_frame(
                _part(derived(ctx, dotted, source=source), part))
    return out


TRAJECTORIES = "evalkit.outcomes.trajectories"
"""Library function for mean scores by week since baseline (disclosure-controlled), when it exists."""


def trajectories(ctx: Context) -> pd.DataFrame | None:
    """Mean scores week by week since the baseline, per programme and instrument (library table)."""
    return as_frame(derived(ctx, TRAJECTORIES, source="data"))


def _part(result: Any, part: str | None) -> Any:
    return result if part is None else getattr(result, part)


TAKE_UP = "evalkit.engagement.take_up_rate"


def take_up(ctx: Context) -> pd.DataFrame | None:
    """The take-up rate per programme (library table: :data:`TAKE_UP`'s, from :func:`funnel_tables`, whose
    disclosure problem it shares), or ``None`` while the library lacks them."""
    if not (available(TAKE_UP) and available(FUNNEL_TABLES)):
        return None
    return as_frame(funnel_tables(ctx).take_up_rate)
