"""Figures for the report: the Altair charts of :mod:`evalkit.charts`, rendered to inline SVG.

Rendering uses the optional package ``vl-convert-python`` (Vega-Lite to SVG,
offline, no browser). Without it the report has no figures and says so; every
figure's numbers are in a table beside it either way. Each SVG is checked
before it is inlined: no script, no ``foreignObject``, no event-handler
attribute and no external reference may appear, otherwise the figure is left
out (with a note).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pandas as pd

from evalkit.report._html import esc

MISSING_RENDERER = ("Figures are not included: they need the optional package vl-convert-python, which is not "
                    "installed. Every figure's numbers are in the tables.")
WIDTH = 560
"""Plot width in pixels (labels add to it); the SVG scales down to the page."""


def renderer_available() -> bool:
    """Whether ``vl_convert`` can be imported."""
    return importlib.util.find_spec("vl_convert") is not None


class _SvgCheck(HTMLParser):
    BAD_TAGS = frozenset({"script", "foreignobject", "iframe", "object", "embed", "image", "use", "a"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() in self.BAD_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            n, v = name.lower(), (value or "").lower().replace(" ", "")
            external_url = "url(" in v and "url(#" not in v
            if n.startswith("on") or n in ("href", "xlink:href", "src") or external_url or "javascript:" in v:
                self.problems.append(f"{n}=")


def svg_problems(svg: str) -> list[str]:
    """What makes an SVG unsafe to inline (empty when it is safe)."""
    check = _SvgCheck()
    check.feed(svg)
    check.close()
    return check.problems


def to_svg(chart: Any, alt: str) -> str:
    """Render an Altair chart to an SVG string labelled for screen readers (``role="img"``)."""
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(chart.to_dict())
    start = svg.find("<svg")
    if start < 0:
        raise ValueError("the renderer returned no SVG")
    svg = svg[start:]
    return svg.replace("<svg", f'<svg role="img" aria-label="{esc(alt)}" focusable="false"', 1)


class Figures:
    """Draws figures when the renderer is available, and remembers why any figure is missing."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and renderer_available()
        self.wanted = enabled
        self.notes: list[str] = []
        self.count = 0

    def figure(self, build: Callable[[], Any], *, alt: str, caption: str, values: Any = None) -> str:
        """A ``<figure>`` with the chart ``build()`` returns as inline SVG, or ``""`` without a renderer.

        ``alt`` describes the figure for people who cannot see it; ``caption``
        (plain text) says what it shows, its n and where its numbers are.
        ``values``: the figure's estimates; when every one is missing (all
        hidden or not estimable) no figure is drawn -- the table says it all.
        """
        if not self.enabled:
            return ""
        if values is not None and not pd.Series(values, dtype="float64").notna().any():
            return ""
        svg = to_svg(build(), alt)
        problems = svg_problems(svg)
        if problems:
            self.notes.append(f"A figure was left out because its drawing held unsafe content ({', '.join(problems)}); "
                              "its numbers are in the table.")
            return ""
        self.count += 1
        return (f'<figure><div class="svg">{svg}</div><figcaption>Figure {self.count}. {esc(caption)}'
                "</figcaption></figure>")

    @property
    def missing_note(self) -> str | None:
        """The sentence saying why there are no figures, if figures were wanted but cannot be drawn."""
        return MISSING_RENDERER if self.wanted and not self.enabled else None
