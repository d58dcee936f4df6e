"""Words people understand: every metric term used by the pages has a one-line explanation."""

from __future__ import annotations

import re
from pathlib import Path

from dashboards import glossary

ROOT = Path(__file__).resolve().parents[2] / "dashboards"


def test_every_term_used_is_explained() -> None:
    used = set()
    for path in [*ROOT.glob("*.py"), *(ROOT / "views").glob("*.py")]:
        text = path.read_text()
        used |= set(re.findall(r"(?:ui\.explain|explain)\(\"([a-z_]+)\"\)", text))
        used |= set(re.findall(r"term=\"([a-z_]+)\"", text))
    missing = sorted(t for t in used if not glossary.explain(t))
    assert not missing, missing
    for term, (label, line) in glossary.TERMS.items():
        assert label and line and "\n" not in line and len(line) < 260, term
