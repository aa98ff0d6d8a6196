"""The theme's colours (the `#:set` lines of theme.kv) for Python code and the contrast test: one source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

THEME_KV = Path(__file__).with_name("theme.kv")
_SET = re.compile(r"^#:set\s+(?P<name>[A-Z_]+)\s+(?P<value>\(.*\))\s*$")


def _colours() -> dict[str, tuple[float, ...]]:
    found = {}
    for line in THEME_KV.read_text(encoding="utf-8").splitlines():
        match = _SET.match(line)
        if match:
            found[match["name"]] = tuple(float(v) for v in ast.literal_eval(match["value"]))
    return found


THEME = _colours()


def luminance(colour: tuple[float, ...]) -> float:
    """WCAG 2 relative luminance of an sRGB colour with channels 0..1."""
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = colour[:3]
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(text: tuple[float, ...], background: tuple[float, ...]) -> float:
    """WCAG contrast ratio, 1..21; AA asks 4.5 for body text."""
    light, dark = sorted((luminance(text), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
