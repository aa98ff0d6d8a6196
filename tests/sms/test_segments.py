"""The one segment count (messaging/sms/segments.py): what the modem really sends, what the editor shows."""

from __future__ import annotations

import pytest

from drivers.sms_pdu import split_message
from store_server.messaging.sms import segments, templates, texts


@pytest.mark.parametrize(("text", "encoding", "parts", "left"), [
    ("", "GSM-7", 0, 160),
    ("a" * 160, "GSM-7", 1, 0),
    ("a" * 161, "GSM-7", 2, 145),
    ("€" * 80, "GSM-7", 1, 0),  # an extension character takes two places
    ("€" * 81, "GSM-7", 2, 144),
    ("я" * 70, "UCS-2", 1, 0),
    ("я" * 71, "UCS-2", 2, 63),
    ("Tiếng Việt", "UCS-2", 1, 60),  # Vietnamese with its diacritics leaves the GSM alphabet
])
def test_parts_encoding_and_room_left(text, encoding, parts, left):
    count = segments.count(text)
    assert (count.encoding, count.parts, count.left) == (encoding, parts, left)
    if text:
        assert count.parts == len(split_message(text))


@pytest.mark.parametrize("purpose", texts.PURPOSES)
def test_every_builtin_text_passes_its_own_placeholder_check(purpose):
    for lang in templates.LANGUAGES:
        assert texts.check(purpose, texts.builtin(purpose, lang))


def test_unknown_and_missing_placeholders_are_named():
    with pytest.raises(texts.Problem) as e:
        texts.check("code_redeem", "{shop}: {code} {amount} {balance}")
    assert e.value.code == "unknown" and e.value.names == ("{balance}",)
    with pytest.raises(texts.Problem) as e:
        texts.check("code_redeem", "{shop}: pay with bonuses")
    assert e.value.code == "missing" and e.value.names == ("{amount}", "{code}")
    for bad in ("{shop}: {code", "{shop}: {code} }", "{shop}: {code!r}", "{shop}: {0} {code}"):
        with pytest.raises(texts.Problem):
            texts.check("code", bad)
