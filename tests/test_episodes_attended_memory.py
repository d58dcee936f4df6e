"""``_attended_contacts`` tells the group contacts apart without taking the contacts' ``kind`` text at the attended
rows, and holds no column of missing text it does not use.

At a million participants of issue #8's volume (9.4 million attended contacts) the taken text was about 150 MB,
held (by a name bound in the function) until the function returned, with a 400 MB transient; the column of missing
text 73 MB. This is where ``evalkit report --db`` peaks at that size, before the contacts are let go of. The arrays
are as before (``tests/test_outcomes_memory_paths.py`` compares them with the code they replaced).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from evalkit.episodes import _arrow_strings


def _contacts(n: int) -> tuple[pd.DataFrame, pa.Array]:
    rng = np.random.default_rng(3)
    pids = np.array([f"participant-{i:06d}" for i in range(n // 10)], dtype=object)
    group = rng.random(n) < 0.2
    frame = pd.DataFrame({
        "programme_id": pd.array(np.where(rng.random(n) < 0.5, "P1", "P2"), dtype="string"),
        "participant_id": pd.array(pids[rng.integers(0, len(pids), n)], dtype="string"),
        "contact_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        "kind": pd.array(np.where(group, "group_session", "one_to_one_telephone"), dtype="string"),
        "status": pd.array(np.where(rng.random(n) < 0.9, "attended", "cancelled_by_participant"), dtype="string"),
        "duration_minutes": rng.integers(20, 90, n).astype(float),
        "group_session_id": pd.array(np.where(group, "GS-000001", None), dtype="string"),
    })
    return frame, _arrow_strings(pd.Series(pids, dtype="string"))


_MEASURE = """
import os, sys
import pyarrow as pa
from tests.test_episodes_attended_memory import _contacts
from evalkit.episodes import _attended_contacts

keep = sys.argv[1] == "keep"
contacts, pids = _contacts(200_000)
pool = pa.proxy_memory_pool(pa.default_memory_pool())
pa.set_memory_pool(pool)
got = _attended_contacts({"contacts": contacts}, pids, keep=keep)
print(len(got.pcode), pool.max_memory(), flush=True)
os._exit(0)  # the arrays made from the proxy pool are not freed after it
"""


@pytest.mark.parametrize("keep", [False, True])
def test_arrow_peak_below_the_kind_text(keep: bool) -> None:
    """What Arrow allocates at most at once, measured in a process of its own (through a proxy of its pool)."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", _MEASURE, "keep" if keep else "lean"], env=env, cwd=root,
                         capture_output=True, text=True, check=True).stdout.split()
    n_attended, peak = int(out[0]), int(out[1])
    contacts, _ = _contacts(200_000)
    assert n_attended > 150_000
    # the participants' look-up and the boolean masks, and with ``keep`` the kept frame's participant and group
    # session ids; not the kind text at the attended rows (about 4.6 MB; taking it peaked at 9.6 MB, 13.6 MB with
    # ``keep``)
    limit = pa.array(contacts["kind"].array).nbytes * 3 // 4 + (pa.array(contacts["participant_id"].array).nbytes
                                                            + pa.array(contacts["group_session_id"].array).nbytes
                                                            if keep else 0)
    assert peak < limit, (peak, limit)
