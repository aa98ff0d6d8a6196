"""How large the screens are drawn: by pixels, and kept at 15 mm buttons when the panel's diagonal is known."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, KioskConfig
from kiosk.screens.scale import MIN_TARGET_MM, TARGET_DP, mm_per_px, ui_scale


@pytest.mark.parametrize("size, inches, expected", [
    ((800, 480), None, 1.0), ((480, 800), 7.0, 1.0),  # the panel the .kv sizes are for: as they are
    ((1280, 800), 10.1, 1.6), ((1920, 1080), 10.1, 2.25),  # big panels: by pixels, buttons well over 15 mm
    ((720, 1280), None, 1.5),  # Touch Display 2 when nobody said how big it is: by pixels only
])
def test_scale_by_pixels(size, inches, expected):
    assert ui_scale(*size, inches) == pytest.approx(expected)


@pytest.mark.parametrize("size", [(720, 1280), (1280, 720)])
def test_touch_display_2_keeps_buttons_15_mm(size):
    by_pixels = ui_scale(*size)
    assert TARGET_DP * by_pixels * mm_per_px(*size, 7.0) < MIN_TARGET_MM  # the shortfall this is for
    scale = ui_scale(*size, 7.0)
    assert TARGET_DP * scale * mm_per_px(*size, 7.0) == pytest.approx(MIN_TARGET_MM)
    assert scale < by_pixels * 1.05  # a little larger, not a different layout


def test_panel_inches_in_kiosk_toml_is_checked():
    assert KioskConfig.from_dict({"panel_inches": 7}).panel_inches == 7
    assert KioskConfig.from_dict({"panel_inches": 10.1}).panel_inches == 10.1
    for bad in ("7", 0, 500, True):
        with pytest.raises(ConfigError, match="panel_inches"):
            KioskConfig.from_dict({"panel_inches": bad})
