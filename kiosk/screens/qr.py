"""The digital card's QR code as a Kivy texture (no image library needed)."""

from __future__ import annotations

import qrcode
from kivy.graphics.texture import Texture


def qr_texture(payload: str, scale: int = 8, border: int = 2) -> Texture:
    qr = qrcode.QRCode(border=border, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(payload)
    matrix = qr.get_matrix()
    size = len(matrix) * scale
    rows = []
    for row in reversed(matrix):  # textures start at the bottom
        line = b"".join((b"\x00\x00\x00" if dark else b"\xff\xff\xff") * scale for dark in row)
        rows.extend([line] * scale)
    texture = Texture.create(size=(size, size), colorfmt="rgb")
    texture.mag_filter = "nearest"
    texture.blit_buffer(b"".join(rows), colorfmt="rgb", bufferfmt="ubyte")
    return texture
