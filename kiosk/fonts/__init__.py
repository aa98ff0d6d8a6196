"""The kiosk's typeface: Noto Sans (OFL, see OFL.txt), because Kivy's Roboto has no Kazakh or Vietnamese letters."""

from __future__ import annotations

from pathlib import Path

FONT_DIR = Path(__file__).parent
REGULAR = FONT_DIR / "NotoSans-Regular.ttf"
BOLD = FONT_DIR / "NotoSans-Bold.ttf"


def register_default() -> None:
    """Makes Noto Sans what every Label draws with unless it names another font."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    LabelBase.register(DEFAULT_FONT, str(REGULAR), fn_bold=str(BOLD))
