"""Compile the .po catalogues into the .mo files gettext reads (run by scripts/test and scripts/demo).

`python -m kiosk.i18n.build extract` refreshes kiosk.pot and merges it into every catalogue.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from . import DOMAIN, LANGUAGES, LOCALE_DIR

PACKAGE = LOCALE_DIR.parent
KEYWORDS = {"_": None, "N_": None}


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract() -> Catalog:
    template = Catalog(project="loyalty-kiosk", charset="utf-8")
    method_map = [("**.py", "python"), ("**.kv", "kiosk.i18n.kv_extract:extract_kv")]
    for filename, lineno, message, comments, _context in extract_from_dir(
            PACKAGE, method_map=method_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)):
        template.add(message, locations=[(filename, lineno)], auto_comments=comments)
    return template


def update() -> None:
    template = extract()
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as f:
        write_po(f, template, omit_header=False, sort_output=True)
    for lang in LANGUAGES:
        path = catalogue_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as f:
                catalogue = read_po(f, locale=lang)
        else:
            catalogue = Catalog(locale=lang, project="loyalty-kiosk", charset="utf-8")
        catalogue.update(template, no_fuzzy_matching=True)
        with path.open("wb") as f:
            write_po(f, catalogue, sort_output=True, ignore_obsolete=True)


def compile_all() -> None:
    for lang in LANGUAGES:
        path = catalogue_path(lang)
        if not path.exists():
            raise SystemExit(f"missing catalogue {path}; run `python -m kiosk.i18n.build extract`")
        with path.open("rb") as f:
            catalogue = read_po(f, locale=lang)
        with path.with_suffix(".mo").open("wb") as f:
            write_mo(f, catalogue)


if __name__ == "__main__":
    if sys.argv[1:] == ["extract"]:
        update()
    compile_all()
