"""Every text colour of the theme is at least 4.5:1 (WCAG AA) on what it is drawn on, and customer text is at
least 18 sp at 800x480 (older customers read a 7" panel at arm's length). Computed from the .kv files, so a
new colour or a smaller size fails here before anyone squints at a screenshot."""

from __future__ import annotations

import re

import pytest

from kiosk.screens.theme import THEME, THEME_KV, contrast

SCREENS = THEME_KV.parent
KV_FILES = sorted(SCREENS.glob("*.kv"))
AA = 4.5
NAME = re.compile(r"\b[A-Z][A-Z_]{2,}\b")
# Labels are drawn on the screen's background or on a panel; NAVY is only ever text on an amber button.
GROUNDS = ("NAVY", "PANEL")


def _rules(text: str) -> dict[str, str]:
    """kv rule name -> its body."""
    rules, current = {}, None
    for line in text.splitlines():
        if line.startswith("<") and line.rstrip().endswith(">:"):
            current = line.strip()[1:-2]
            rules[current] = ""
        elif current is not None:
            rules[current] += line + "\n"
    return rules


def _names(expression: str) -> set[str]:
    return {n for n in NAME.findall(expression) if n in THEME}


def test_the_theme_has_the_colours_the_screens_use():
    assert {"NAVY", "PANEL", "WHITE", "MUTED", "AMBER", "RED", "GREEN", "DANGER", "DISABLED"} <= set(THEME)


@pytest.mark.parametrize("path", KV_FILES, ids=lambda p: p.name)
def test_colours_are_named_theme_colours(path):
    """A colour written as numbers would escape this test: every colour comes from theme.kv by name."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = re.match(r"\s*(color|background_color|disabled_color)\s*:\s*(.+)$", line)
        if m:
            assert not re.search(r"\(\s*[\d.]+\s*,", m.group(2)), f"{path.name}:{n}: use a theme colour name"
            assert _names(m.group(2)), f"{path.name}:{n}: no theme colour in {m.group(2)!r}"


def test_text_colours_are_readable_on_the_screen_and_on_panels():
    used = set()
    for path in KV_FILES:
        for m in re.finditer(r"^\s*(?:color|disabled_color)\s*:\s*(.+)$", path.read_text(encoding="utf-8"), re.M):
            used |= _names(m.group(1))
    used.discard("NAVY")  # text on amber buttons only: checked with the buttons below
    weak = {(text, ground): round(contrast(THEME[text], THEME[ground]), 2)
            for text in used for ground in GROUNDS if contrast(THEME[text], THEME[ground]) < AA}
    assert not weak, f"below {AA}:1: {weak}"


def test_every_button_style_is_readable_in_every_state():
    """Each button rule's background colours (normal, pressed, on) against its text colours."""
    checked = 0
    for path in KV_FILES:
        for name, body in _rules(path.read_text(encoding="utf-8")).items():
            backgrounds = set()
            texts = set()
            for m in re.finditer(r"^\s*background_color\s*:\s*(.+)$", body, re.M):
                backgrounds |= _names(m.group(1))
            for m in re.finditer(r"^\s*(?:color|disabled_color)\s*:\s*(.+)$", body, re.M):
                texts |= _names(m.group(1))
            if not backgrounds or not texts:
                continue
            for ground in backgrounds:
                # NAVY text belongs to the light (pressed or amber) grounds, white to the dark ones
                readable = [t for t in texts if contrast(THEME[t], THEME[ground]) >= AA]
                assert readable, f"{path.name} <{name}>: no text colour readable on {ground}"
                checked += 1
    assert checked >= 6


def test_light_and_dark_pairs_used_by_the_buttons():
    pairs = [("NAVY", "AMBER"), ("NAVY", "AMBER_DOWN"), ("WHITE", "PANEL_DOWN"), ("WHITE", "GREEN_ON"),
             ("WHITE", "DANGER"), ("WHITE", "DANGER_DOWN"), ("DISABLED", "PANEL"), ("RED", "PANEL")]
    weak = {p: round(contrast(THEME[p[0]], THEME[p[1]]), 2) for p in pairs if contrast(THEME[p[0]], THEME[p[1]]) < AA}
    assert not weak, weak


def test_contrast_formula_matches_wcag_examples():
    assert contrast((0, 0, 0), (1, 1, 1)) == pytest.approx(21)
    assert contrast((0.466, 0.466, 0.466), (1, 1, 1)) == pytest.approx(4.5, abs=0.05)


# The technician's screens (a log, a status block) may be denser: the customer's may not.
SMALLEST = {"technician.kv": 14}


@pytest.mark.parametrize("path", KV_FILES, ids=lambda p: p.name)
def test_text_is_at_least_18_sp_on_customer_screens(path):
    smallest = SMALLEST.get(path.name, 18)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for call in re.findall(r"\bsp\(([^)]*)\)", line):
            sizes = [int(v) for v in re.findall(r"\b\d+\b", call)]
            assert sizes and min(sizes) >= smallest, f"{path.name}:{n}: {line.strip()} (at least {smallest} sp)"
