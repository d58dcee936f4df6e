"""Privacy at the door: keyed pseudonyms and refusal of direct identifiers.

Two jobs, both done before anything reaches the store:

* **Pseudonyms.** ``participant_id`` and ``peer_supporter_id`` are replaced by a
  keyed hash, ``"p_"`` + the first 16 hex digits of
  HMAC-SHA256(secret, namespace + US + id), where US is the ASCII unit
  separator and ``namespace`` is the uploading provider. The same id, provider
  and secret always give the same pseudonym, so re-uploads match; two providers
  that both number their mothers ``M0001`` get different pseudonyms. The
  secret belongs to the deployment and is never stored with the data (see
  :func:`load_secret`). Values that already are pseudonyms (``p_`` + 16 hex
  digits, e.g. in a corrected quarantine export) are left as they are.
* **Direct identifiers.** Columns that look like names, NHS numbers, email
  addresses, phone numbers, full postcodes, dates of birth or addresses are
  found by header name and by value pattern (:func:`find_identifiers`), so an
  upload holding them can be refused with a message naming the column.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets as _secrets
import stat
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from evalkit.canonical import PROVENANCE_COLUMNS, SOURCE_ROW, ValidationResult
from evalkit.errors import EvalkitError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ID_COLUMNS",
    "PSEUDONYM_PATTERN",
    "IdentifierColumnsError",
    "default_secret_path",
    "find_identifiers",
    "is_valid_nhs_number",
    "key_check",
    "load_secret",
    "pseudonymise_frame",
    "pseudonymise_ids",
    "refuse_identifier_columns",
    "refuse_identifiers",
]

ID_COLUMNS: Final = ("participant_id", "peer_supporter_id")
"""Columns holding person ids that are replaced by pseudonyms at ingest."""

PSEUDONYM_PATTERN: Final = r"p_[0-9a-f]{16}"
"""What a pseudonym looks like (``p_`` and 16 lower-case hex digits)."""

_PSEUDONYM_RE = re.compile(PSEUDONYM_PATTERN)
_MIN_SECRET_BYTES = 16
_SEP = b"\x1f"


# --------------------------------------------------------------------------- secret


def default_secret_path() -> Path:
    """Per-user key file: ``$XDG_CONFIG_HOME/evalkit/secret.key`` (default ``~/.config/evalkit/secret.key``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "evalkit" / "secret.key"


def load_secret(*, create: bool = True) -> bytes:
    """Return the deployment's pseudonymisation secret.

    Looked up in this order:

    1. environment variable ``EVALKIT_SECRET`` (at least 16 characters);
    2. the key file named by ``EVALKIT_SECRET_FILE``;
    3. the per-user key file :func:`default_secret_path`.

    When the key file of 2 or 3 does not exist and ``create`` is true, a new
    random 256-bit key is written there with permissions 0600 and a note is
    printed to stderr: keep that file safe and back it up - without it, later
    uploads cannot be matched with earlier ones.

    Raises
    ------
    EvalkitError
        If the secret is too short, unreadable, or missing and ``create`` is false.
    """
    env = os.environ.get("EVALKIT_SECRET")
    if env:
        key = env.encode("utf-8")
        if len(key) < _MIN_SECRET_BYTES:
            raise EvalkitError(
                f"EVALKIT_SECRET is too short ({len(key)} characters); use at least {_MIN_SECRET_BYTES}"
            )
        return key
    path = Path(os.environ.get("EVALKIT_SECRET_FILE") or default_secret_path()).expanduser()
    if path.exists():
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise EvalkitError(f"cannot read the pseudonymisation key file {path}: {exc}") from exc
        if len(key) < _MIN_SECRET_BYTES:
            raise EvalkitError(f"the pseudonymisation key file {path} holds fewer than {_MIN_SECRET_BYTES} bytes")
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            sys.stderr.write(f"evalkit: warning: key file {path} is readable by others; run: chmod 600 {path}\n")
        return key
    if not create:
        raise EvalkitError(
            f"no pseudonymisation secret: set EVALKIT_SECRET or EVALKIT_SECRET_FILE, or create {path}"
        )
    key = _secrets.token_hex(32).encode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    sys.stderr.write(
        f"evalkit: created a new pseudonymisation key at {path} (permissions 0600). Keep it safe and back it "
        "up: the same key is needed for later uploads to match earlier ones. It is never stored in the database.\n"
    )
    return key


def key_check(secret: bytes) -> str:
    """A keyed fingerprint of ``secret`` (safe to store; it cannot be turned back into the secret).

    The store keeps it to notice when a deployment's secret has changed, which
    would silently break matching of re-uploads.
    """
    return _Hasher(secret)("evalkit-key-check", b"")


# --------------------------------------------------------------------------- pseudonyms


class _Hasher:
    """HMAC-SHA256 with the padded key hashed once (about 0.7 s per million ids)."""

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes | bytearray) or len(secret) < _MIN_SECRET_BYTES:
            raise ValueError(f"secret must be at least {_MIN_SECRET_BYTES} bytes")
        key = bytes(secret)
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def __call__(self, value: str, prefix: bytes) -> str:
        inner = self._inner.copy()
        inner.update(prefix + value.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return "p_" + outer.hexdigest()[:16]


def pseudonymise_ids(values: pd.Series, *, secret: bytes, namespace: str = "",
                     missing_values: Iterable[str] = ()) -> pd.Series:
    """Replace ids by keyed pseudonyms.

    Parameters
    ----------
    values
        Ids as strings (missing stays missing; surrounding blanks are ignored, so a blank cell, or one of
        only spaces, stays missing: it names nobody).
    secret
        The deployment secret (:func:`load_secret`).
    namespace
        Scope of the ids, normally the provider: the same id from two providers
        gives two pseudonyms.
    missing_values
        Further texts that mean a missing id (a table's ``missingValues``, e.g.
        ``NA``): they stay missing too, so validation still finds the id blank.

    Returns
    -------
    pandas.Series
        ``"string"`` dtype, same index; each id becomes ``p_`` + 16 hex digits of
        HMAC-SHA256(secret, namespace + "\\x1f" + id). Values that already are
        pseudonyms are kept unchanged, so applying this twice is harmless.

    Notes
    -----
    Each distinct id is hashed once (``pandas.factorize``), so repeated ids in
    contacts and measures cost nothing extra.
    """
    hasher = _Hasher(secret)
    prefix = namespace.encode("utf-8") + _SEP
    text = _arrow_text(values).str.strip()
    text = text.mask(text.isin(["", *missing_values]))  # blank or a missing-value marker: no id, no pseudonym
    codes, uniques = pd.factorize(text)
    uniq = pd.Series(np.asarray(uniques, dtype=object), dtype="string[pyarrow]")
    already = uniq.str.fullmatch(PSEUDONYM_PATTERN).fillna(False).to_numpy(dtype=bool)
    hashed = uniq.to_numpy(dtype=object)
    todo = np.flatnonzero(~already)
    hashed[todo] = [hasher(u, prefix) for u in hashed[todo]]
    out = np.full(len(text), None, dtype=object)
    present = codes >= 0
    out[present] = hashed[codes[present]]
    return pd.Series(out, index=values.index, dtype="string", name=values.name)


# Python's ``\s`` for str patterns (all of sys.maxunicode checked with re when written), as RE2 escapes: pyarrow's
# RE2 engine then matches exactly the characters Python's ``re`` does (RE2's own ``\s`` misses some, e.g.
# \x0b, which is why pandas runs a pattern with ``\s`` through Python's ``re``, one call per cell).
_WS_CODES = (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
             0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
_WS_RE2 = "".join(f"\\x{{{c:04X}}}" for c in _WS_CODES)


def _re2(pattern: str) -> str:
    """``pattern`` (Python ``re`` syntax) for pyarrow's RE2, anchored at both ends, with ``\\s`` spelled out."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            pair = pattern[i:i + 2]
            out.append((_WS_RE2 if in_class else f"[{_WS_RE2}]") if pair == "\\s" else pair)
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class and out and out[-1] != "[":
            in_class = False
        out.append(ch)
        i += 1
    return "^(?:" + "".join(out) + ")$"


def _fullmatch(text: pd.Series, pattern: str) -> np.ndarray:
    """Whether each value of ``text`` matches ``pattern`` as a whole (``re.fullmatch``), in pyarrow's C++ engine.

    ``pattern`` uses only syntax Python's ``re`` and RE2 read alike (literals, escapes, classes, groups,
    alternation, ``?``/``{m,n}``) and ``\\s`` (see :func:`_re2`). Missing values are False.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arrow = pa.array(_arrow_text(text).array)
    found = pc.match_substring_regex(arrow, _re2(pattern))
    return found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _arrow_text(values: pd.Series) -> pd.Series:
    """``values`` as pyarrow-backed strings, so regular expressions run vectorised in C++."""
    return values if str(values.dtype) == "string[pyarrow]" else values.astype("string[pyarrow]")


def pseudonymise_frame(
    frame: pd.DataFrame, *, secret: bytes, namespace: str = "", columns: Iterable[str] = ID_COLUMNS,
    missing_values: Iterable[str] = (),
) -> pd.DataFrame:
    """Return a copy of ``frame`` with its id columns (those present of ``columns``) pseudonymised
    (:func:`pseudonymise_ids`; blank cells and ``missing_values`` stay missing)."""
    out = frame.copy(deep=False)  # copy-on-write: the id columns are replaced, ``frame`` is left as it was
    missing = tuple(missing_values)
    for col in columns:
        if col in out.columns:
            out[col] = pseudonymise_ids(out[col], secret=secret, namespace=namespace, missing_values=missing)
    return out


# --------------------------------------------------------------------------- direct identifiers

_HEADER_PATTERNS: Final[Mapping[str, str]] = {
    "name": r"(first|last|given|family|full|middle|maiden|mothers?|baby|child|client|participant|patient)_?names?"
    r"|names?|forenames?|surnames?|firstname|lastname|fullname",
    "NHS number": r"nhs(_?(no|num|number|id))?|chi(_?(no|number))?|hospital_?(no|number)|mrn",
    "email address": r"e_?mail(_?address)?",
    "phone number": r"(tele)?phone(_?(no|num|number))?|mobile(_?(no|number))?|tel(_?no)?|contact_?number",
    "postcode": r"post_?code|postal_?code|zip(_?code)?",
    "date of birth": r"dob|d_o_b|date_?of_?birth|birth_?date|birthday",
    "address": r"(home_?|street_?|postal_?)?address(_?line_?\d*|\d)?|street|house_?(no|number|name)",
}
_HEADER_RE = {kind: re.compile(rf"(?:{pat})") for kind, pat in _HEADER_PATTERNS.items()}

_EMAIL = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
_POSTCODE = r"(GIR ?0AA|[A-Za-z]{1,2}[0-9][0-9A-Za-z]? ?[0-9][A-Za-z]{2})"
_POSTCODE_SPACED = r"(GIR 0AA|[A-Za-z]{1,2}[0-9][0-9A-Za-z]? [0-9][A-Za-z]{2})"
_PHONE = r"(\+44\s?\(?0?\)?|0)[1-9][0-9]{1,4}[\s-]?[0-9]{3,4}[\s-]?[0-9]{3,4}"
_PHONE_WRITTEN = r"(\+44\s?\(?0?\)?[1-9][0-9]{1,4}|0[1-9][0-9]{1,4})[\s-][0-9]{3,4}[\s-]?[0-9]{3,4}"
_NHS = r"[0-9]{3}[\s-]?[0-9]{3}[\s-]?[0-9]{4}"
_NHS_WEIGHTS = np.arange(10, 1, -1)

IDENTIFIER_FINDING_COLUMNS: Final = ("column", "kind", "evidence", "matches", "checked")


def _normalise_header(name: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower().replace("'", "")).strip("_")


def is_valid_nhs_number(values: pd.Series) -> pd.Series:
    """Whether each value is a 10-digit NHS number with a valid modulus-11 check digit.

    Spaces and hyphens between the 3-3-4 groups are allowed. Numbers made of
    one repeated digit (e.g. ``0000000000``) are not counted.
    """
    text = _arrow_text(values).str.strip()
    shaped = _fullmatch(text, _NHS)
    result = np.zeros(len(text), dtype=bool)
    if shaped.any():
        digits = text[shaped].str.replace(r"[\s-]", "", regex=True)
        arr = np.frombuffer("".join(digits.tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 10) - 48
        remainder = (arr[:, :9] * _NHS_WEIGHTS).sum(axis=1) % 11
        check = (11 - remainder) % 11
        ok = (check != 10) & (check == arr[:, 9]) & ~(arr == arr[:, :1]).all(axis=1)
        result[np.flatnonzero(shaped)] = ok
    return pd.Series(result, index=values.index)


_VALUE_PATTERNS: Final[Mapping[str, str]] = {
    "email address": _EMAIL, "postcode": _POSTCODE, "_postcode_spaced": _POSTCODE_SPACED, "phone number": _PHONE,
    "_phone_written": _PHONE_WRITTEN,
}
_VALUE_KINDS: Final = (*_VALUE_PATTERNS, "NHS number")

# A value matching none of the value patterns in full (nor an NHS number's 3-3-4 digit shape) is no identifier:
# one RE2 pass with their union over the distinct values leaves only the few that are for the patterns one by one.
_ANY_IDENTIFIER = "|".join(_re2(pattern) for pattern in (*_VALUE_PATTERNS.values(), _NHS))


def _arrow_strings(values: pd.Series | pd.Index) -> pa.Array:
    """``values`` (strings) as a pyarrow array: as they are when pyarrow-backed, else via ``"string[pyarrow]"``
    (a Series' missing values left out)."""
    import pyarrow as pa

    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return pa.array(values.array)
    if isinstance(values, pd.Index):
        return pa.array(_arrow_text(pd.Series(values.astype(object))).array)
    return pa.array(_arrow_text(values.dropna()).array)


def _kept_and_maybe(stripped: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Which ``stripped`` values are present and not blank, and which of those match :data:`_ANY_IDENTIFIER`."""
    import pyarrow.compute as pc

    kept = pc.not_equal(stripped, "").fill_null(False).to_numpy(zero_copy_only=False)
    maybe = pc.match_substring_regex(stripped, _ANY_IDENTIFIER).fill_null(False).to_numpy(zero_copy_only=False)
    return kept, kept & maybe


def _category_cells(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """How many cells hold each category, from a categorical's ``codes`` (-1 for a missing cell)."""
    return np.bincount(codes[codes >= 0], minlength=n_categories)


_FEW_LEFT_OUT = 4


def _cells_holding(codes: np.ndarray, counted: np.ndarray) -> int:
    """How many cells hold a category marked in ``counted`` (one boolean per category), from a categorical's
    ``codes``: the present cells less those of the few categories left out, or summed per category."""
    left_out = np.flatnonzero(~counted)
    if len(left_out) > _FEW_LEFT_OUT:
        return int(_category_cells(codes, len(counted))[counted].sum())
    return int(np.count_nonzero(codes >= 0)) - sum(int(np.count_nonzero(codes == int(code))) for code in left_out)


def _value_kinds(col: pd.Series) -> dict[str, int]:
    """Count values of ``col`` that fully match each identifier pattern.

    Values are stripped and blanks left out (``_n`` counts the rest). Each distinct value (a
    categorical's category, else a value of ``pyarrow.compute.value_counts``) is looked at once and
    weighted by its cells - values that strip alike are simply counted apart and add up - and only
    those matching the union of the patterns (:data:`_ANY_IDENTIFIER`) go through the six patterns
    one by one; the counts are those of matching every cell against every pattern.
    """
    import pyarrow.compute as pc

    cells = codes = None
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes, values = col.cat.codes.to_numpy(), _arrow_strings(col.cat.categories)
    else:
        counted = pc.value_counts(_arrow_strings(col))
        values, cells = counted.field("values"), counted.field("counts").to_numpy(zero_copy_only=False)
    stripped = pc.utf8_trim_whitespace(values)
    kept, maybe = _kept_and_maybe(stripped)
    if cells is None and not maybe.any():
        n_values = _cells_holding(codes, kept)  # no category needs weighing: only the non-blank cells are counted
    else:
        cells = _category_cells(codes, len(values)) if cells is None else cells
        n_values = int(cells[kept].sum())
    if n_values == 0:
        return {}
    out = dict.fromkeys(_VALUE_KINDS, 0)
    if maybe.any():
        candidates = pd.Series(stripped.filter(maybe), dtype="string[pyarrow]")
        weights = cells[maybe].astype(np.int64)
        found = {kind: _fullmatch(candidates, pattern) for kind, pattern in _VALUE_PATTERNS.items()}
        found["NHS number"] = is_valid_nhs_number(candidates).to_numpy(dtype=bool)
        out = {kind: int(weights[found[kind]].sum()) for kind in _VALUE_KINDS}
    out["_n"] = n_values
    return out


_ROWS_LISTED = 10


def _rows_holding(column: pd.Series, source_row: pd.Series | None, kind: str) -> str:
    """The rows whose ``column`` value is a ``kind`` of identifier, as text ("rows 2, 5 and 3 more").

    Rows are the provider's spreadsheet rows (``source_row``, the frame's column of that name) when given, else
    positions counted from 2 (row 1 being the header). Only called for a column already found to hold such values.
    """
    text = _arrow_text(column.astype("str") if isinstance(column.dtype, pd.CategoricalDtype) else column).str.strip()
    present = text.notna().to_numpy(dtype=bool) & (text != "").fillna(False).to_numpy(dtype=bool)
    hit = np.zeros(len(text), dtype=bool)
    values = text[present].astype("string[pyarrow]")
    if len(values):
        if kind == "NHS number":
            hit[present] = is_valid_nhs_number(values).to_numpy(dtype=bool)
        else:
            hit[present] = _fullmatch(values, {"email address": _EMAIL, "postcode": _POSTCODE,
                                               "phone number": _PHONE}[kind])
    where = np.flatnonzero(hit)
    if source_row is not None:
        numbers = pd.to_numeric(source_row, errors="coerce").to_numpy(dtype=float)[where]
    else:
        numbers = where + 2.0
    shown = [str(int(n)) for n in numbers[:_ROWS_LISTED] if np.isfinite(n)]
    if not shown:
        return ""
    more = len(where) - len(shown)
    return ("row " if len(where) == 1 else "rows ") + ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def find_identifiers(
    frame: pd.DataFrame, *, table: str | None = None, allowed: Iterable[str] | None = None
) -> pd.DataFrame:
    """Find columns of ``frame`` that look like direct identifiers.

    Parameters
    ----------
    frame
        A raw (all strings) or canonical frame.
    table
        Canonical table the frame belongs to: its schema columns (and the
        provenance columns) are never flagged by *name* (``programmes.name`` is
        the programme's name), but their values are still checked.
    allowed
        Further column names never flagged by name.

    Returns
    -------
    pandas.DataFrame
        One row per flagged column with :data:`IDENTIFIER_FINDING_COLUMNS`:
        ``column``, ``kind`` (e.g. ``"email address"``), ``evidence``
        (``"header"`` or ``"values"``), ``matches`` (values matching the pattern)
        and ``checked`` (non-blank values looked at), and ``rows``: for values,
        the rows holding them as text (``"rows 2, 5"``, the provider's row
        numbers when the frame has ``source_row``; up to ten listed). Empty
        when nothing is found.

    Notes
    -----
    Header names are normalised (lower case, runs of other characters to ``_``)
    and matched in full against name patterns for names, NHS numbers, email,
    phone, postcodes, dates of birth and addresses. Values are flagged when a
    cell *is* an email address, a full UK postcode written with its space or a
    UK phone number written with a space or hyphen (or +44) - any one such
    cell - or when at least half the non-blank cells are postcodes without the
    space, phone numbers written as bare digits, or NHS numbers with a
    valid check digit (a column of random 10-digit ids passes the check about
    one time in eleven, so one such cell alone is not evidence).
    """
    exempt = set(PROVENANCE_COLUMNS) | set(allowed or ())
    if table is not None:
        from evalkit.schemas import table_schema

        schema = table_schema(table)
        exempt |= set(schema.field_names)
        exempt |= {c for c in frame.columns if schema.is_item_column(str(c))}
    labels = list(frame.columns)
    # by position: a column label that is not text, or one that two columns share, still names one column
    source_row = frame.iloc[:, labels.index(SOURCE_ROW)] if SOURCE_ROW in labels else None
    rows: list[tuple[str, str, str, int, int, str]] = []
    for position, col in enumerate(labels):
        header = _normalise_header(col)
        if col not in exempt:
            for kind, rx in _HEADER_RE.items():
                if rx.fullmatch(header):
                    rows.append((str(col), kind, "header", 0, 0, ""))
                    break
        series = frame.iloc[:, position]
        if not (pd.api.types.is_string_dtype(series.dtype) or series.dtype == object
                or isinstance(series.dtype, pd.CategoricalDtype)):
            continue
        counts = _value_kinds(series)
        if not counts:
            continue
        n = counts.pop("_n")
        spaced = counts.pop("_postcode_spaced")
        written = counts.pop("_phone_written")
        for kind, hits in counts.items():
            strong = (kind == "email address" or (kind == "postcode" and spaced > 0)
                      or (kind == "phone number" and written > 0))
            if hits and (strong or hits * 2 >= n):
                # the rows (as the provider numbers them) holding the values found, for the refusal to name
                rows.append((str(col), kind, "values", hits, n, _rows_holding(series, source_row, kind)))
    out = pd.DataFrame(rows, columns=[*IDENTIFIER_FINDING_COLUMNS, "rows"])
    return out.astype({"column": "string", "kind": "string", "evidence": "string", "matches": "int64",
                       "checked": "int64"})


class IdentifierColumnsError(EvalkitError):
    """An upload holds columns that look like direct identifiers; nothing of it was stored.

    Attributes
    ----------
    findings : pandas.DataFrame
        What :func:`find_identifiers` found, with a ``table`` column added.
    """

    def __init__(self, findings: pd.DataFrame) -> None:
        self.findings = findings
        parts = []
        for r in findings.itertuples(index=False):
            where = f"{r.table}." if getattr(r, "table", None) else ""
            how = "its name" if r.evidence == "header" else f"{r.matches} of {r.checked} values"
            rows = getattr(r, "rows", "")
            how += f": {rows}" if isinstance(rows, str) and rows else ""
            parts.append(f"column '{where}{r.column}' looks like {r.kind} ({how})")
        super().__init__(
            "upload refused - it holds direct identifiers, which evalkit never stores: "
            + "; ".join(parts)
            + ". Remove these columns (or the identifying values) and upload again."
        )


def refuse_identifiers(frames: Mapping[str, pd.DataFrame], *, allowed: Iterable[str] | None = None) -> None:
    """Raise :class:`IdentifierColumnsError` if any frame (keyed by table name) holds direct identifiers.

    Keys that are not canonical table names are checked with no exempt columns.
    """
    from evalkit.schemas import TABLE_NAMES

    found = []
    for name, frame in frames.items():
        f = find_identifiers(frame, table=name if name in TABLE_NAMES else None, allowed=allowed)
        if not f.empty:
            found.append(f.assign(table=name))
    if found:
        raise IdentifierColumnsError(pd.concat(found, ignore_index=True))


def refuse_identifier_columns(result: ValidationResult) -> None:
    """Refuse an upload whose files hold columns that look like direct identifiers, found by their headers.

    The readers leave such a column out (a report row with rule ``identifier_column``: a name, NHS number,
    contact details, date of birth or address header); the upload is still refused whole, as one with
    identifying *values* is (:func:`evalkit.pseudonymise.refuse_identifiers`), so the provider removes the
    column from the files they send. :func:`evalkit.ingest.ingest` calls it; ``evalkit validate`` says so in advance.

    Raises
    ------
    IdentifierColumnsError
        Naming each such column and its table.
    """
    found = result.report[result.report["rule"] == "identifier_column"]
    if found.empty:
        return
    findings = pd.DataFrame({
        "column": found["column"].astype("string").to_numpy(), "kind": "identifying details",
        "evidence": "header", "matches": 0, "checked": 0, "rows": "",
        "table": found["table"].astype("string").to_numpy(),
    }).drop_duplicates(["table", "column"], ignore_index=True)
    raise IdentifierColumnsError(findings)
