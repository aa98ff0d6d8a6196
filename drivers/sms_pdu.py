"""SMS PDUs as GSM modems want them (3GPP TS 23.040 / 23.038): SMS-SUBMIT out, SMS-DELIVER in.

Kept apart from the AT session so the codec can be tested on known vectors without a serial port.
GSM-7 is used when every character is in the default alphabet (160 / 153 per part), otherwise UCS2
(70 / 67 per part), which covers Cyrillic, Ukrainian and Kazakh letters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# 3GPP TS 23.038 §6.2.1, the default alphabet in code order (0x1B is the escape to the extension table).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(GSM7_BASIC) == 128
GSM7_EXTENSION = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E,
                  "|": 0x40, "€": 0x65}
_BASIC_CODE = {ch: i for i, ch in enumerate(GSM7_BASIC) if ch != "\x1b"}
_EXT_CHAR = {code: ch for ch, code in GSM7_EXTENSION.items()}

GSM7_SINGLE, GSM7_PART = 160, 153  # septets
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units
DCS_GSM7, DCS_UCS2 = 0x00, 0x08
_CONCAT_UDH_LEN = 6  # UDHL + IEI 00 + IEDL 03 + ref + total + seq


class PduError(ValueError):
    """A PDU could not be built or parsed; the message says which field."""


def is_gsm7(text: str) -> bool:
    return all(ch in _BASIC_CODE or ch in GSM7_EXTENSION for ch in text)


def gsm7_septets(text: str) -> list[int]:
    out: list[int] = []
    for ch in text:
        if ch in _BASIC_CODE:
            out.append(_BASIC_CODE[ch])
        elif ch in GSM7_EXTENSION:
            out += [0x1B, GSM7_EXTENSION[ch]]
        else:
            raise PduError(f"{ch!r} is not in the GSM 7-bit alphabet")
    return out


def gsm7_text(septets: list[int]) -> str:
    chars, escaped = [], False
    for s in septets:
        if escaped:
            chars.append(_EXT_CHAR.get(s, " "))  # 23.038: unknown extension -> space
            escaped = False
        elif s == 0x1B:
            escaped = True
        else:
            chars.append(GSM7_BASIC[s])
    return "".join(chars)


def pack_septets(septets: list[int], fill_bits: int = 0) -> bytes:
    """Pack 7-bit values LSB first; `fill_bits` zero bits first, to align text after a UDH."""
    acc, nbits, out = 0, fill_bits, bytearray()
    for s in septets:
        acc |= (s & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    value = int.from_bytes(data, "little")
    return [(value >> (fill_bits + 7 * i)) & 0x7F for i in range(count)]


@dataclass(frozen=True)
class SmsPart:
    """One SMS on the air: its text slice and, for a long message, where it sits in the whole."""

    text: str
    ucs2: bool
    ref: int | None = None
    total: int = 1
    seq: int = 1


def split_message(text: str, ref: int = 0) -> list[SmsPart]:
    """Split into parts: 160 GSM-7 / 70 UCS2 fit one SMS, longer ones go in 153 / 67 slices.

    An escape pair (GSM-7) or a surrogate pair (UCS2) is never cut between two parts, because the
    phone would show garbage at the seam.
    """
    if not text:
        raise PduError("an SMS needs some text")
    ucs2 = not is_gsm7(text)
    cost = (lambda ch: len(ch.encode("utf-16-be")) // 2) if ucs2 else (lambda ch: 2 if ch in GSM7_EXTENSION else 1)
    single, per_part = (UCS2_SINGLE, UCS2_PART) if ucs2 else (GSM7_SINGLE, GSM7_PART)
    if sum(cost(ch) for ch in text) <= single:
        return [SmsPart(text, ucs2)]
    slices, current, used = [], [], 0
    for ch in text:
        if used + cost(ch) > per_part:
            slices.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += cost(ch)
    slices.append("".join(current))
    if len(slices) > 255:
        raise PduError(f"message too long: {len(slices)} parts, at most 255")
    return [SmsPart(s, ucs2, ref & 0xFF, len(slices), i) for i, s in enumerate(slices, 1)]


def _encode_address(phone: str) -> bytes:
    digits = phone.lstrip("+")
    if not digits.isdigit() or not 1 <= len(digits) <= 20:
        raise PduError(f"destination {phone!r} is not a phone number")
    toa = 0x91 if phone.startswith("+") else 0x81  # international / unknown numbering plan
    padded = digits + ("F" if len(digits) % 2 else "")
    swapped = "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))
    return bytes([len(digits), toa]) + bytes.fromhex(swapped)


def encode_submit(phone: str, part: SmsPart, *, validity: int = 0xA7) -> tuple[str, int]:
    """SMS-SUBMIT as hex for AT+CMGS in PDU mode, and the TPDU length the command needs.

    The SMSC address is left empty ("00") so the modem uses the one stored on the SIM. The validity
    0xA7 is 24 hours: a code older than that is useless anyway.
    """
    first = 0x01 | 0x10 | (0x40 if part.ref is not None else 0)  # SUBMIT, relative VP, UDHI
    udh = bytes([5, 0x00, 3, part.ref, part.total, part.seq]) if part.ref is not None else b""
    if part.ucs2:
        body = part.text.encode("utf-16-be")
        ud, udl, dcs = udh + body, len(udh) + len(body), DCS_UCS2
    else:
        septets = gsm7_septets(part.text)
        fill = (7 - (len(udh) * 8) % 7) % 7 if udh else 0
        udh_septets = (len(udh) * 8 + fill) // 7
        ud, udl, dcs = udh + pack_septets(septets, fill), udh_septets + len(septets), DCS_GSM7
    tpdu = bytes([first, 0x00]) + _encode_address(phone) + bytes([0x00, dcs, validity, udl]) + ud
    if len(tpdu) > 164:
        raise PduError("PDU longer than 164 octets; split the text first")
    return "00" + tpdu.hex().upper(), len(tpdu)


@dataclass(frozen=True)
class DeliveredPdu:
    """One received SMS-DELIVER, possibly one part of a longer message."""

    sender: str
    text: str
    sent_at: datetime
    ref: int | None = None
    total: int = 1
    seq: int = 1


def _swap_digits(data: bytes) -> str:
    return "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in data)


def _decode_timestamp(data: bytes) -> datetime:
    d = [int(x) for x in _swap_digits(data[:6])[:12].replace("F", "0")]
    year, month, day, hour, minute, second = (d[i] * 10 + d[i + 1] for i in range(0, 12, 2))
    tz = data[6]
    quarters = (tz & 0x07) * 10 + (tz >> 4)  # semi-octets swapped; bit 3 of the low nibble is the sign
    offset = timedelta(minutes=15 * quarters) * (-1 if tz & 0x08 else 1)
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError as e:
        raise PduError(f"bad service centre timestamp {data.hex()}") from e


def _alphabet(dcs: int) -> str:
    if dcs & 0xC0 == 0x00:  # general data coding (compression bit ignored: nobody uses it)
        return ("gsm7", "8bit", "ucs2", "gsm7")[(dcs >> 2) & 0x03]
    if dcs & 0xF0 == 0xE0:  # message waiting group, UCS2
        return "ucs2"
    if dcs & 0xF0 == 0xF0:
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"


def decode_deliver(hex_pdu: str) -> DeliveredPdu:
    """Parse an SMS-DELIVER as listed by AT+CMGL / AT+CMGR in PDU mode (SMSC address first)."""
    try:
        pdu = bytes.fromhex(hex_pdu.strip())
    except ValueError as e:
        raise PduError(f"PDU is not hex: {hex_pdu[:40]!r}") from e
    try:
        pos = 1 + pdu[0]  # skip the SMSC address
        first = pdu[pos]
        if first & 0x03 != 0x00:
            raise PduError(f"not an SMS-DELIVER (first octet {first:02X})")
        oa_digits, toa = pdu[pos + 1], pdu[pos + 2]
        oa_len = (oa_digits + 1) // 2
        oa = pdu[pos + 3: pos + 3 + oa_len]
        if toa & 0x70 == 0x50:  # alphanumeric sender name, GSM-7 packed
            sender = gsm7_text(unpack_septets(oa, oa_digits * 4 // 7))
        else:
            sender = ("+" if toa & 0x70 == 0x10 else "") + _swap_digits(oa)[:oa_digits]
        pos += 3 + oa_len
        dcs = pdu[pos + 1]
        sent_at = _decode_timestamp(pdu[pos + 2: pos + 9])
        udl = pdu[pos + 9]
        ud = pdu[pos + 10:]
    except IndexError as e:
        raise PduError(f"PDU too short: {hex_pdu[:40]!r}") from e
    ref, total, seq, udh_len = None, 1, 1, 0
    if first & 0x40:
        udh_len = ud[0] + 1
        ref, total, seq = _concat_info(ud[1:udh_len])
    alphabet = _alphabet(dcs)
    if alphabet == "gsm7":
        fill = (7 - (udh_len * 8) % 7) % 7
        udh_septets = (udh_len * 8 + fill) // 7
        text = gsm7_text(unpack_septets(ud[udh_len:], udl - udh_septets, fill))
    elif alphabet == "ucs2":
        text = ud[udh_len:udl].decode("utf-16-be", errors="replace")
    else:
        text = ud[udh_len:udl].decode("latin-1")
    return DeliveredPdu(sender, text, sent_at, ref, total, seq)


def _concat_info(elements: bytes) -> tuple[int | None, int, int]:
    i = 0
    while i + 1 < len(elements):
        iei, length = elements[i], elements[i + 1]
        data = elements[i + 2: i + 2 + length]
        if iei == 0x00 and length == 3:
            return data[0], data[1], data[2]
        if iei == 0x08 and length == 4:  # 16-bit reference number variant
            return int.from_bytes(data[:2], "big"), data[2], data[3]
        i += 2 + length
    return None, 1, 1

