"""Reading a CSV file the way a shop's spreadsheet saved it: which encoding and which delimiter.

Excel in Ukraine, Russia or Kazakhstan saves "CSV" as Windows-1251 with ";" between columns; newer Excel and
LibreOffice save UTF-8, with or without a byte-order mark, often with ","; "Unicode text" is UTF-16 with tabs.
The file's own bytes decide, and the caller tells the operator what was used.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass

DELIMITERS = ",;\t|"
NAMES = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "utf-16": "UTF-16", "cp1251": "Windows-1251"}


@dataclass(frozen=True)
class CsvText:
    text: str
    encoding: str  # a codec name: utf-8-sig, utf-8, utf-16, cp1251
    delimiter: str

    def describe(self) -> str:
        shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}[self.delimiter]
        return f"{NAMES[self.encoding]}, columns separated by {shown}"


class CsvInputError(ValueError):
    pass


def decode(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Not UTF-8: the single-byte code page of the spreadsheets this product's shops use. It decodes any byte,
    # so check the result reads as text (letters, digits, punctuation) rather than trusting it blindly.
    text = data.decode("cp1251", errors="replace")
    odd = sum(1 for ch in text if not (ch.isprintable() or ch in "\r\n\t") or ch == "\ufffd")
    if odd > max(2, len(text) // 100):
        raise CsvInputError("the file is not text in UTF-8, UTF-16 or Windows-1251 (save it as CSV UTF-8)")
    return text, "cp1251"


def delimiter_of(header: str) -> str:
    """The separator the header line uses most (a header of names has no quoted separators in practice)."""
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read(data: bytes) -> CsvText:
    text, encoding = decode(data)
    header = text.split("\n", 1)[0]
    return CsvText(text, encoding, delimiter_of(header))


def rows(source: CsvText) -> csv.DictReader:
    import io

    return csv.DictReader(io.StringIO(source.text, newline=""), delimiter=source.delimiter)
