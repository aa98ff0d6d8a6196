"""Charts as server-rendered SVG: no script, no CDN, readable by a screen reader.

Each chart is an <svg role="img"> with a <title> and a <desc> that says what it shows in words (the biggest and
the last value), and every bar carries its own <title> (the tooltip: label and figure). The figures are also
printed beside the chart by the page, so the chart is never the only way to read them. Colours come from
presentation attributes and the stylesheet's classes: the back office's CSP allows no inline style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

_ids = count(1)


@dataclass(frozen=True)
class Point:
    label: str  # what the bar is (a date, a till's name)
    value: float  # its height, in any unit (only ratios matter)
    text: str  # the figure as the page writes it (money in the shop's currency, a count)


def _frame(title: str, desc: str, width: int, height: int, body: list[str], css: str,
           aspect: str = "none") -> Markup:
    n = next(_ids)
    return Markup(
        f'<svg class="chart {css}" role="img" viewBox="0 0 {width} {height}" preserveAspectRatio="{aspect}" '
        f'aria-labelledby="chart{n}-t chart{n}-d" xmlns="http://www.w3.org/2000/svg" focusable="false">'
        f'<title id="chart{n}-t">{escape(title)}</title><desc id="chart{n}-d">{escape(desc)}</desc>'
        + "".join(body) + "</svg>")


def _describe(points: Sequence[Point], words: dict[str, str]) -> str:
    if not points:
        return words.get("empty", "")
    top = max(points, key=lambda p: p.value)
    return f"{words.get('highest', '')} {top.label}: {top.text}. {words.get('last', '')} {points[-1].label}: " \
           f"{points[-1].text}."


def columns(title: str, points: Sequence[Point], words: dict[str, str] | None = None, width: int = 300,
            height: int = 80) -> Markup:
    """Vertical bars in time order (a day, a week, a month each), scaled to the biggest."""
    words = words or {}
    top = max((p.value for p in points), default=0) or 1
    gap = 1 if len(points) > 40 else 2
    step = width / max(1, len(points))
    body = [f'<line class="axis" x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="#888"/>']
    for i, p in enumerate(points):
        h = max(0.0, p.value) / top * (height - 2)
        body.append(f'<rect class="bar" x="{i * step + gap / 2:.2f}" y="{height - 1 - h:.2f}" '
                    f'width="{max(0.5, step - gap):.2f}" height="{h:.2f}" fill="#2f6fad">'
                    f'<title>{escape(p.label)}: {escape(p.text)}</title></rect>')
    return _frame(title, _describe(points, words), width, height, body, "columns")


def bars(title: str, points: Sequence[Point], words: dict[str, str] | None = None, width: int = 300) -> Markup:
    """Horizontal bars, biggest first (top tills, cashiers, segments), each with its label and figure."""
    words = words or {}
    top = max((p.value for p in points), default=0) or 1
    row = 22
    height = max(row, row * len(points))
    body = []
    for i, p in enumerate(points):
        # the label on the left (cut to what fits; the bar's tooltip and the page's table have it whole), the
        # bar in the middle, its figure right of it
        w = max(0.0, p.value) / top * (width * 0.36)
        y = i * row
        label = p.label if len(p.label) <= 18 else p.label[:17] + "…"
        body.append(f'<text x="0" y="{y + 15}" font-size="12" fill="#222">{escape(label)}</text>'
                    f'<rect class="bar" x="{width * 0.4:.1f}" y="{y + 4}" width="{w:.2f}" height="{row - 8}" '
                    f'fill="#2f6fad"><title>{escape(p.label)}: {escape(p.text)}</title></rect>'
                    f'<text x="{width * 0.4 + w + 4:.1f}" y="{y + 15}" font-size="12" fill="#222">'
                    f'{escape(p.text)}</text>')
    return _frame(title, _describe(points, words), width, height, body, "bars", "xMinYMin meet")
