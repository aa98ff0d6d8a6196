"""Draws the back office's favicon.ico from its favicon.svg (16, 32 and 48 px PNGs in one .ico), in Debian's Chromium.

Browsers that do not take an SVG icon, and any browser asking /favicon.ico on its own, get this file. Run it after
changing store_server/admin/static/favicon.svg: `python -m devtools.favicon_ico`.
"""

from __future__ import annotations

import base64
import struct
from pathlib import Path

from playwright.sync_api import sync_playwright

STATIC = Path(__file__).resolve().parents[1] / "store_server" / "admin" / "static"
SIZES = (16, 32, 48)


def pngs(svg: str) -> list[tuple[int, bytes]]:
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    drawn = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        for size in SIZES:
            page = browser.new_page(viewport={"width": size, "height": size})
            page.set_content(f'<body style="margin:0;background:transparent"><img src="{source}" '
                             f'width="{size}" height="{size}" style="display:block"></body>')
            drawn.append((size, page.screenshot(omit_background=True)))
            page.close()
        browser.close()
    return drawn


def ico(images: list[tuple[int, bytes]]) -> bytes:
    """The ICO container: a directory of entries, each pointing at a PNG (accepted since Windows Vista)."""
    offset = 6 + 16 * len(images)
    entries, data = b"", b""
    for size, png in images:
        entries += struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png), offset + len(data))
        data += png
    return struct.pack("<HHH", 0, 1, len(images)) + entries + data


def main() -> None:
    out = STATIC / "favicon.ico"
    out.write_bytes(ico(pngs((STATIC / "favicon.svg").read_text())))
    print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
