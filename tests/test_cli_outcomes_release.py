"""``evalkit outcomes`` hands the freed tables back to the operating system before the statistics (issue #8).

At a million participants the contacts, read in other threads, stayed resident (1.2 GB) under the statistics
after the tables were let go; the command now releases freed memory between the episodes and the statistics.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import evalkit.episodes
import evalkit.memory
import evalkit.outcomes
from evalkit.cli import main
from evalkit.generator import generate_programmes


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate_programmes(300, seed=3).write(out)
    return out


def test_memory_released_between_episodes_and_statistics(folder, monkeypatch, capsys) -> None:
    events: list[str] = []
    prepare, summary = evalkit.episodes.prepare_episodes, evalkit.outcomes.outcome_summary

    def prepare_logged(*args, **kwargs):
        out = prepare(*args, **kwargs)
        events.append("episodes")
        return out

    def summary_logged(*args, **kwargs):
        events.append("statistics")
        return summary(*args, **kwargs)

    monkeypatch.setattr(evalkit.episodes, "prepare_episodes", prepare_logged)
    monkeypatch.setattr(evalkit.outcomes, "outcome_summary", summary_logged)
    monkeypatch.setattr(evalkit.memory, "release_freed_memory", lambda: events.append("release"))
    assert main(["outcomes", "--data", str(folder), "--no-models"]) == 0
    assert "programme" in capsys.readouterr().out
    assert events == ["episodes", "release", "statistics"]
