"""Reading the guest's screen (a QEMU screendump) without OCR: the kiosk's own colours (kiosk/screens/theme.kv)
say which screen is up and which language is chosen.

The attract screen has the kiosk's navy ground, the shop's name and the join button in amber, and the language
bar at the top right: one panel-coloured button per language of the shop, in the shop's order, the chosen
language's label drawn in amber and the others in white. So the buttons are found by their ground colour and
the chosen one by the colour of its label: no font, scale or screen size is assumed."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

NAVY = (15, 36, 61)  # (0.06, 0.14, 0.24): Window.clearcolor and theme.kv's NAVY
PANEL = (28, 56, 89)  # (0.11, 0.22, 0.35): QuietButton's ground
AMBER = (245, 166, 36)  # (0.96, 0.65, 0.14)
WHITE = (255, 255, 255)


def _near(pixel: tuple[int, int, int], colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    return (abs(pixel[0] - colour[0]) <= tolerance and abs(pixel[1] - colour[1]) <= tolerance
            and abs(pixel[2] - colour[2]) <= tolerance)


@dataclass
class AttractReading:
    navy_share: float  # of the whole screen
    amber_share: float
    buttons: list[tuple[int, int]]  # the language bar's buttons: (left, right) columns
    chosen: list[int]  # indexes of the buttons whose label is amber

    def describe(self) -> str:
        return (f"navy {self.navy_share:.0%} of the screen, amber {self.amber_share:.1%}, "
                f"{len(self.buttons)} language buttons at {self.buttons}, amber label on {self.chosen}")


def read_attract(picture: Image.Image) -> AttractReading:
    rgb = picture.convert("RGB")
    width, height = rgb.size
    pixels = rgb.load()
    # Every 4th pixel is plenty for the shares (and fast in pure Python).
    sample = [pixels[x, y] for y in range(0, height, 4) for x in range(0, width, 4)]
    navy = sum(_near(p, NAVY) for p in sample) / len(sample)
    amber = sum(_near(p, AMBER, 30) for p in sample) / len(sample)
    # The language bar: the topmost band of panel-coloured rows (the shop's name above or beside it is navy on
    # amber); its buttons are the runs of panel colour along a row just inside the band's top
    # edge, above the labels.
    left = 0
    band = [y for y in range(height // 3)
            if sum(_near(pixels[x, y], PANEL) for x in range(left, width, 2)) >= 20]
    buttons: list[tuple[int, int]] = []
    chosen = []
    if band:
        y0 = band[0]
        y1 = y0
        while y1 + 1 in band:
            y1 += 1
        row = [_near(pixels[x, y0 + 2], PANEL) for x in range(left, width)] + [False]
        start = None
        for offset, panel in enumerate(row):
            if panel and start is None:
                start = offset
            elif not panel and start is not None:
                if offset - start >= 20:  # a button, not a stray run of pixels
                    buttons.append((left + start, left + offset - 1))
                start = None
        for index, (x0, x1) in enumerate(buttons):
            label = [pixels[x, y] for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]
            amber_label = sum(_near(p, AMBER, 40) for p in label)
            white_label = sum(_near(p, WHITE, 40) for p in label)
            if amber_label > max(20, white_label):
                chosen.append(index)
    return AttractReading(navy, amber, buttons, chosen)
