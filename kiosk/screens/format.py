"""Numbers as the shop reads them: minor units shown as 1 234.50."""

from __future__ import annotations


def money(minor: int, *, signed: bool = False) -> str:
    sign = "-" if minor < 0 else ("+" if signed and minor > 0 else "")
    return sign + f"{abs(minor) / 100:,.2f}".replace(",", " ")
