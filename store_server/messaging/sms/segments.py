"""How many SMS parts a text costs, and how close it is to costing one more.

Parts are what a provider bills: 160 GSM-7 characters or 70 UCS-2 ones fit one SMS, longer texts go as
concatenated parts of 153 or 67. The splitting itself is drivers/sms_pdu.py's (what the GSM modem really sends,
never cutting an escape or a surrogate pair), so the count here is the count on the air. One function for the
back office's template editor (its live count) and the message log (each SMS records its parts, which the SMS
report sums).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.sms_pdu import GSM7_EXTENSION, GSM7_PART, GSM7_SINGLE, UCS2_PART, UCS2_SINGLE, is_gsm7, split_message


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # GSM-7 septets (an extension character takes two) or UTF-16 code units
    parts: int
    left: int  # units still free in the last part before the text costs one part more

    def as_dict(self) -> dict:
        return {"encoding": self.encoding, "units": self.units, "parts": self.parts, "left": self.left}


def count(text: str) -> Segments:
    if not text:
        return Segments("GSM-7", 0, 0, GSM7_SINGLE)
    gsm = is_gsm7(text)
    units = (sum(2 if ch in GSM7_EXTENSION else 1 for ch in text) if gsm
             else len(text.encode("utf-16-le")) // 2)
    parts = len(split_message(text))
    single, per_part = (GSM7_SINGLE, GSM7_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    left = single - units if parts == 1 else parts * per_part - units
    return Segments("GSM-7" if gsm else "UCS-2", units, parts, max(0, left))


def parts(text: str) -> int:
    return len(split_message(text)) if text else 0
