"""Read an upload's files in the background while the tables already read are checked.

:func:`read_files_ahead` gives the same raw frames as :func:`evalkit.readers.read_files`, as a mapping whose
tables are read one after another by a background thread, in the order :func:`evalkit.validation.validate`
asks for them (:data:`evalkit.schemas.TABLE_NAMES`). Asking for a table waits only for that table's files.
Arrow parses a CSV file without holding Python's global lock, so the next file is parsed on the machine's
other core while validation works through the tables before it, instead of after all of them.

This needs every file's table known before it is read: CSV files, no column mapping, no sheet, and each file
either named after its table (``participants.csv``, see :func:`evalkit.readers.headers.table_for_name`) or the
table chosen (``table=``). Any other upload (a workbook, a mapping, a file whose table only its headers can
tell, a one-row-per-mother file) is read in full first, by :func:`evalkit.readers.read_files`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from evalkit.column_mapping import ColumnMapping
from evalkit.readers import _TEXT
from evalkit.readers.detect import check_table_name
from evalkit.readers.headers import table_for_name
from evalkit.readers.limits import ReadLimits
from evalkit.readers.redcap import RedcapMapping
from evalkit.schemas import TABLE_NAMES

__all__ = ["TablesReadAhead", "planned_tables", "read_files_ahead"]

def planned_tables(paths: Iterable[str | Path], *, table: str | None = None) -> list[tuple[Path, str]] | None:
    """Each file and the table it will be read as, when that is known without reading the files.

    Known for an existing CSV (``.csv``, ``.tsv``, ``.txt``) file when ``table`` is given, or when the
    file's stem names one table (:func:`~evalkit.readers.headers.table_for_name`) and its first lines are
    not a one-row-per-mother layout (:func:`~evalkit.readers.wide.looks_wide`, which only a named ``table``
    overrides). :func:`evalkit.readers.read_file` then reads the file as that table or refuses it.

    Returns
    -------
    list of (Path, str) or None
        In the order given; ``None`` when some file's table is not known this way (or a file is missing:
        reading it reports that).
    """
    from evalkit.readers.wide import looks_wide

    if table is not None:
        check_table_name(table)
    plan: list[tuple[Path, str]] = []
    for given in paths:
        path = Path(given)
        if path.suffix.lower() not in _TEXT or not path.is_file():
            return None
        if table is not None:
            plan.append((path, table))
            continue
        named = table_for_name(path.stem)
        if named is None or looks_wide(path):
            return None
        plan.append((path, named))
    return plan


class TablesReadAhead(Mapping[str, pd.DataFrame]):
    """Raw frames by table name, read by a background thread in validation's table order.

    Made by :func:`read_files_ahead`; behaves as the dict :func:`evalkit.readers.read_files` returns (the same
    keys in the same order, the same frames). Looking up a table waits until its files are read. A file that
    cannot be read raises, at the first table looked up once it has failed, the error
    :func:`~evalkit.readers.read_files` raises: that of the first such file in the order given (every
    file is waited for then). :meth:`close` stops the reading of tables not yet begun.
    """

    def __init__(self, plan: list[tuple[Path, str]], *, table: str | None = None, limits: ReadLimits | None = None,
                 compact: bool = True) -> None:
        self._order = list(dict.fromkeys(name for _, name in plan))  # read_files's keys: first file's order
        self._table, self._limits, self._compact = table, limits, compact
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="evalkit-read-ahead")
        self._jobs: dict[str, Future[pd.DataFrame]] = {}
        for name in sorted(self._order, key=TABLE_NAMES.index):
            files = [(i, path) for i, (path, planned) in enumerate(plan) if planned == name]
            self._jobs[name] = self._pool.submit(self._read_table, name, files)
        self._pool.shutdown(wait=False)  # the thread ends after the last table

    def _read_table(self, name: str, files: list[tuple[int, Path]]) -> pd.DataFrame:
        """One table's files read in the order given and merged (in the background thread)."""
        from evalkit.readers import merged_frames, read_file

        frames = []
        for index, path in files:
            try:
                read = read_file(path, table=self._table, limits=self._limits, compact=self._compact)
            except Exception as exc:  # noqa: BLE001 - handed to the caller, with the file's place in the order
                raise _FileFailed(index, exc) from None
            if list(read) != [name]:  # planned_tables said otherwise: a fault here, not in the file
                raise RuntimeError(f"{path.name} was read as {list(read)}, not as the {name} table planned")
            frames.append(read[name])
        return merged_frames(frames, compact=self._compact)

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._jobs:
            raise KeyError(name)
        job = self._jobs[name]
        if job.cancelled():
            raise RuntimeError(f"the {name} table was not read: its reading was stopped (close) before it began")
        try:
            return job.result()  # the same frame at every look-up
        except _FileFailed:
            failure = self.first_failure()
            assert failure is not None  # this table's file, if no earlier one
            raise failure from None

    def first_failure(self) -> Exception | None:
        """The error of the first file (in the order given) that could not be read, or ``None`` when every file
        was read; waits for every table's reading (not for those :meth:`close` stopped)."""
        failed: list[_FileFailed] = []
        for job in self._jobs.values():
            if job.cancelled():
                continue
            try:
                job.result()
            except _FileFailed as exc:
                failed.append(exc)
        return min(failed, key=lambda f: f.index).error if failed else None

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def close(self) -> None:
        """Cancel the reading of tables not yet begun and wait for the one being read."""
        for job in self._jobs.values():
            job.cancel()
        for job in self._jobs.values():
            if not job.cancelled():
                try:
                    job.result()
                except _FileFailed:
                    pass


class _FileFailed(Exception):
    """A file of a table read ahead could not be read: its place in the order given, and the error."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index)
        self.index, self.error = index, error


@contextmanager
def read_files_ahead(paths: Iterable[str | Path], *, table: str | None = None, sheet: str | None = None,
                     mapping: ColumnMapping | RedcapMapping | None = None, limits: ReadLimits | None = None,
                     compact: bool = True) -> Iterator[Mapping[str, pd.DataFrame]]:
    """Read several files as :func:`evalkit.readers.read_files` does, each table's files ahead of their use.

    A context manager giving the raw frames by table name. Where every file's table is known before it is
    read (:func:`planned_tables`; no ``sheet`` or ``mapping``) and there are two tables or more, the mapping is a
    :class:`TablesReadAhead`: the tables are read one after another by a background thread, in the order
    :func:`evalkit.validation.validate` checks them, so validating a table overlaps reading the next.
    Otherwise it is the dict :func:`~evalkit.readers.read_files` returns, every file read on entry. On exit,
    tables not yet begun are not read.

    Parameters
    ----------
    paths
        The files, in order (several files of one table are merged in this order).
    table, sheet, mapping, limits, compact
        As for :func:`evalkit.readers.read_file`.

    Yields
    ------
    Mapping[str, pandas.DataFrame]
        Raw frames keyed by table name, as :func:`~evalkit.readers.read_files` returns them.

    Raises
    ------
    InputFileError
        A file cannot be read (from the look-up of a table, for files read ahead: see
        :class:`TablesReadAhead`). An exception raised in the ``with`` block while files are read ahead gives way
        to the error of the first file that cannot be read, as with :func:`~evalkit.readers.read_files`, which
        would have raised it before the block began (every file is then waited for; an interrupt is not).

    Examples
    --------
    >>> from evalkit.validation import validate
    >>> with read_files_ahead(["participants.csv", "contacts.csv"]) as raw:  # doctest: +SKIP
    ...     result = validate(raw)
    """
    paths = list(paths)
    plan = planned_tables(paths, table=table) if sheet is None and mapping is None else None
    if plan is None or len({name for _, name in plan}) < 2:
        from evalkit.readers import read_files

        yield read_files(paths, table=table, sheet=sheet, mapping=mapping, limits=limits, compact=compact)
        return
    tables = TablesReadAhead(plan, table=table, limits=limits, compact=compact)
    try:
        yield tables
    except Exception:
        # read_files would have stopped at a file it cannot read before the caller's work began: that error
        # comes first, whatever went wrong after (validation's own setup: the instrument registry, the date)
        failure = tables.first_failure()
        if failure is not None:
            raise failure from None
        raise
    finally:
        tables.close()
