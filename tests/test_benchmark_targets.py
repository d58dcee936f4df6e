"""The benchmark report's target lines judge evalkit's own steps, not the baselines measured next to them."""

from __future__ import annotations

from benchmarks.run import markdown

INFO = {
    "started": "s", "finished": "f", "command": "c", "load_start": 0, "load_end": 0, "git": {},
    "machine": {"cores": 2, "memory_gb": 24, "cpu": "x", "python": "3.11", "pandas": "3", "numpy": "2",
                "openblas_coretype": ""},
}


def _targets(records: list[dict]) -> list[str]:
    md = markdown(records, INFO)
    return [line for line in md[md.index("### Targets"):].splitlines() if line.startswith("| ") and "target |" not in line]


def test_peak_memory_ignores_baselines_and_is_judged_per_stage() -> None:
    records = [
        {"stage": "ingest_sqlite", "size": 1_000_000, "step": "ingest", "seconds": 1.0, "peak_mb": 3800},
        {"stage": "ingest_sqlite", "size": 1_000_000, "step": "to_sql (baseline)", "seconds": 1.0, "peak_mb": 5200,
         "baseline_of": "validate+ingest"},
        {"stage": "outcomes", "size": 1_000_000, "step": "outcomes", "seconds": 1.0, "peak_mb": 4100},
        {"stage": "outcomes", "size": 100_000, "step": "outcomes", "seconds": 1.0, "peak_mb": 9000},
    ]
    lines = _targets(records)
    ingest = [x for x in lines if "peak memory" in x and "ingest_sqlite" in x]
    outcomes = [x for x in lines if "peak memory" in x and "outcomes" in x]
    assert len(ingest) == 1 and "3,800 MB" in ingest[0] and ingest[0].endswith("| yes |")
    assert len(outcomes) == 1 and "4,100 MB" in outcomes[0] and outcomes[0].endswith("| NO |")


def _frictionless(size: int, evalkit_s: float, frictionless_s: float, **found: int) -> list[dict]:
    counts = {"seeded": 10, "seeded_found_by_evalkit": 10, "only_evalkit": 0, "only_frictionless": 0, "agree": 10,
              "evalkit_errors": 10, "frictionless_errors": 10} | found
    return [
        {"stage": "frictionless", "size": size, "step": "frictionless validate (3 tables)", "seconds": frictionless_s,
         "baseline_of": "evalkit validate (3 tables)", "speedup": frictionless_s / evalkit_s},
        {"stage": "frictionless", "size": size, "step": "evalkit validate (3 tables)", "seconds": evalkit_s, **counts},
    ]


def test_frictionless_target_needs_speed_and_every_seeded_error() -> None:
    assert _targets(_frictionless(100_000, 1.0, 25.0, only_frictionless=1))[-1].endswith("| yes |")
    assert _targets(_frictionless(100_000, 1.0, 15.0))[-1].endswith("| NO |")
    assert _targets(_frictionless(100_000, 1.0, 25.0, seeded_found_by_evalkit=9))[-1].endswith("| NO |")
    assert _targets(_frictionless(100_000, 1.0, 25.0, only_evalkit=1))[-1].endswith("| NO |")
    assert "informational" in _targets(_frictionless(1_000, 1.0, 2.0))[-1]


def test_read_validate_is_judged_cold_against_cold_and_warm_against_warm() -> None:
    from benchmarks.run import ratios

    records = [
        {"stage": "read_validate", "size": 100_000, "step": "pyarrow csv read, first in the process (baseline)",
         "seconds": 0.2, "baseline_of": "read+validate+score"},
        {"stage": "read_validate", "size": 100_000, "step": "pyarrow csv read (floor)", "seconds": 0.3,
         "baseline_of": "read+validate+score, again in the process"},
        {"stage": "read_validate", "size": 100_000, "step": "read+validate+score", "seconds": 1.0},
        {"stage": "read_validate", "size": 100_000, "step": "read+validate+score, again in the process",
         "seconds": 0.6},
    ]
    ratios(records)
    lines = [x for x in _targets(records) if "read+validate+score" in x]
    assert len(lines) == 2
    cold = next(x for x in lines if "cold" in x)
    warm = next(x for x in lines if "warm" in x)
    assert "| 5.0x |" in cold and cold.endswith("| NO |")
    assert "| 2.0x |" in warm and warm.endswith("| yes |")


def test_peak_memory_of_a_stage_that_failed_is_not_judged() -> None:
    records = [
        {"stage": "read_validate", "size": 1_000_000, "step": "read", "seconds": 3.1, "peak_mb": 2064},
        {"stage": "read_validate", "size": 1_000_000, "step": "FAILED", "seconds": None,
         "note": "contacts.csv: it has more than 5,000,000 rows"},
        {"stage": "scoring", "size": 1_000_000, "step": "evalkit score", "seconds": 0.8, "peak_mb": 2219},
    ]
    lines = [x for x in _targets(records) if "peak memory" in x]
    failed = [x for x in lines if "read_validate" in x]
    assert len(failed) == 1 and failed[0].endswith("| not judged: the stage failed |")
    assert "before the stage failed" in failed[0]
    assert [x for x in lines if "scoring" in x][0].endswith("| yes |")


def test_peak_memory_of_a_stage_whose_command_failed_is_not_judged() -> None:
    """A command killed for memory leaves no peak of its own: the stage's lower figure must not read as met."""
    records = [
        {"stage": "ingest_sqlite", "size": 1_000_000, "step": "ingest", "seconds": 240.0, "peak_mb": 3505},
        {"stage": "ingest_sqlite", "size": 1_000_000, "step": "command: evalkit report", "seconds": 90.0,
         "peak_mb": None, "error": "exit -9: "},
    ]
    (line,) = [x for x in _targets(records) if "peak memory" in x]
    assert line.endswith("| not judged: command: evalkit report failed |")
