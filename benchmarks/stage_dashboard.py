"""Render each dashboard page with Streamlit's AppTest at one size (default 10k participants), first and cached.

The generated data are ingested once (as ``evalkit ingest`` does) into an
SQLite file next to the CSV files (``dash.sqlite``, kept for later runs). The
app runs in single-user mode against it (``EVALKIT_DB_URL``), as
``tests/dashboard`` does.

"First" is the first view of a page in a fresh session after the data
changed: every data and result cache is emptied
(:func:`dashboards.data.clear_caches`, what a new upload or a rollback does
to the cache keys, which hold the data version); the imports are already
warm, as in a running server. It is measured two ways:

* ``<page> first`` - the page as the *very first page opened*: for each page,
  a new session runs its default page (untimed), the caches are emptied, then
  the timed run switches to the page. It pays for loading the tables and the
  outcome results on its own.
* ``<page> in turn first`` - *each page in turn*: the caches are emptied
  once, a new session opens the default page (Overview, timed) and then every
  other page in menu order, each timed on its first view. Later pages reuse
  what earlier pages loaded and computed (same data version and scope).

``<page> cached`` / ``<page> in turn cached`` - running the same page again
(what a user sees when changing a widget or coming back).

``report prepared`` - the Report page builds its HTML report and workbook only when "Prepare the report" is
clicked: after its very-first and cached views, the click is timed too (an action, not a page view, so no page
target applies; informational), then the page once more.

The store: ``dash.sqlite`` next to the data (made once), or the database URL given with ``--opt url=...``
(a store already holding this size's upload made with :data:`~benchmarks.common.PROVIDER` and
:data:`~benchmarks.common.SECRET`, e.g. a copy of one made by ``evalkit ingest``; the data are then not
generated or read, and the URL is used as it is: give a copy, as the app may write to it).

Baseline: ``empty page (baseline)`` - an AppTest of a script that only writes
a title, run the same way: the cost of AppTest and Streamlit themselves.
Targets: first under 2 s, cached under 0.3 s at 10k participants.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchmarks.common import (
    PROVIDER,
    ROOT,
    SECRET,
    TABLES,
    csv_paths,
    data_dir,
    ensure_data,
    measure,
    stage_main,
)

STAGE = "dashboard"
APP = ROOT / "dashboards" / "app.py"
TIMEOUT = 600


def database(size: int, root: Path) -> str:
    path = data_dir(size, root) / "dash.sqlite"
    url = f"sqlite:///{path}"
    if path.exists():
        return url
    from evalkit.ingest import ingest
    from evalkit.pseudonymise import pseudonymise_frame
    from evalkit.readers import read_file
    from evalkit.store import open_store
    from evalkit.validation import validate

    paths = csv_paths(size, root)
    raw = {}
    for name in TABLES:
        raw.update(read_file(paths[name], table=name))
    raw = {t: pseudonymise_frame(f, secret=SECRET, namespace=PROVIDER) for t, f in raw.items()}
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    store = open_store(f"sqlite:///{tmp}")
    try:
        ingest(validate(raw), store, provider=PROVIDER, file_name="bench", sha256="0" * 64, secret=SECRET)
    finally:
        store.close()
    tmp.rename(path)
    return url


def pages() -> list[str]:
    from dashboards.pages import PAGES

    return [file for file, _, _, roles, _ in PAGES
            if "admin" in roles and file not in ("upload.py", "accounts.py") and (ROOT / "dashboards" / "views" / file).is_file()]


def run(size: int, *, root: Path, pg: str | None = None, only: str = "", mode: str = "alone,turn", url: str = "",
        **_: str) -> None:
    from streamlit.testing.v1 import AppTest

    if not url:  # else a store already holding the benchmark's upload (PROVIDER, SECRET), as given
        ensure_data(size, root)
        url = database(size, root)
    os.environ["EVALKIT_DB_URL"] = url
    os.environ["EVALKIT_SECRET"] = SECRET.decode()
    holder = tempfile.TemporaryDirectory(dir=root)
    tmp = Path(holder.name)
    os.environ["EVALKIT_ACCOUNTS_FILE"] = str(tmp / "accounts.json")
    empty = tmp / "empty.py"
    empty.write_text("import streamlit as st\nst.title('empty')\n")

    from dashboards.data import clear_caches

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()  # imports pandas, statsmodels, the app; default page
    clear_caches()
    at0 = AppTest.from_file(str(empty), default_timeout=TIMEOUT)
    at0.run()
    with measure(STAGE, size, "empty page (baseline)", baseline_of="first"):
        at0.run()
    wanted = [p for p in pages() if not only or p.removesuffix(".py") in only.split(",")]
    modes = mode.split(",")

    def timed(at: AppTest, step: str, note: str) -> None:
        with measure(STAGE, size, step, note=note) as r:
            at.run()
        r["exceptions"] = len(at.exception)
        r["errors"] = len(at.error)
        if at.exception or at.error:
            r["messages"] = [str(e.value)[:160] for e in [*at.exception, *at.error]][:3]

    if "alone" in modes:  # each page as the very first page opened after the data changed
        for file in wanted:
            name = file.removesuffix(".py")
            at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
            at.run()
            clear_caches()
            at.switch_page(f"views/{file}")
            timed(at, f"{name} first", "very first page opened after a data change; target < 2 s")
            timed(at, f"{name} cached", "target < 0.3 s")
            if name == "report":  # the page builds the report only when asked: time the asking too
                from dashboards.state import RP_PREPARE

                at.button(key=RP_PREPARE).click()
                timed(at, "report prepared", "'Prepare the report' clicked: the HTML report and its tables built "
                                             "(an action, not a page view; informational)")
                timed(at, "report prepared cached", "the prepared report's page again")
    if "turn" in modes:  # every page in turn in one fresh session after the data changed
        clear_caches()
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        default = pages()[0]
        for file in [default, *[f for f in wanted if f != default]]:
            name = file.removesuffix(".py")
            if file != default:
                at.switch_page(f"views/{file}")
            timed(at, f"{name} in turn first", "first view, pages opened in menu order after a data change; "
                                               "target < 2 s")
            timed(at, f"{name} in turn cached", "target < 0.3 s")
    clear_caches()
    holder.cleanup()


if __name__ == "__main__":
    stage_main(run)
