"""How large the screens are drawn on a panel. Sizes in the .kv files are for a 7" 800x480 panel (480x800
upright); a bigger panel scales them up by its pixels. A small panel with many pixels (the 7" Touch Display 2,
720x1280) would then draw buttons under 15 mm, so when the panel's diagonal is known (`panel_inches` in
kiosk.toml) the scale is also kept high enough for the standard button to stay 15 mm on the glass."""

from __future__ import annotations

import math

TARGET_DP = 80  # theme.kv's TARGET: the height of a button
MIN_TARGET_MM = 15.0


def mm_per_px(width: int, height: int, panel_inches: float) -> float:
    return 25.4 * panel_inches / math.hypot(width, height)


def ui_scale(width: int, height: int, panel_inches: float | None = None) -> float:
    by_pixels = min(width / 800, height / 480) if width >= height else min(width / 480, height / 800)
    scale = max(1.0, by_pixels)
    if panel_inches:
        scale = max(scale, MIN_TARGET_MM / (TARGET_DP * mm_per_px(width, height, panel_inches)))
    return scale
