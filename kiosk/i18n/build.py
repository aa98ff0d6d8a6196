"""Compile the .po catalogues into the .mo files gettext reads (run by scripts/test and scripts/demo).

`python -m kiosk.i18n.build extract` refreshes kiosk.pot and merges it into every catalogue. The store
server's back office (store_server/admin/locale, domain "admin") is extracted and compiled by the same
step, so both programs ship compiled catalogues from one command.
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
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract() -> Catalog:
    template = Catalog(project="loyalty-kiosk", charset="utf-8")
    method_map = [("**.py", "python"), ("**.kv", "kiosk.i18n.kv_extract:extract_kv")]
    for filename, lineno, message, comments, _context in extract_from_dir(
            PACKAGE, method_map=method_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)):
        template.add(message, locations=[(filename, lineno)], auto_comments=comments)
    return template


def update(template: Catalog, pot: Path, path_for, project: str) -> None:
    """Writes the template and merges it into every language's catalogue (new ones start empty)."""
    with pot.open("wb") as f:
        write_po(f, template, omit_header=False, sort_output=True)
    for lang in LANGUAGES:
        path = path_for(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as f:
                catalogue = read_po(f, locale=lang)
        else:
            catalogue = Catalog(locale=lang, project=project, charset="utf-8")
        catalogue.update(template, no_fuzzy_matching=True)
        with path.open("wb") as f:
            write_po(f, catalogue, sort_output=True, ignore_obsolete=True)


def compile_all() -> None:
    for lang in LANGUAGES:
        _compile(catalogue_path(lang), lang)
    for lang in LANGUAGES:
        _compile(admin_catalogue_path(lang), lang)


def _compile(path: Path, lang: str) -> None:
    if not path.exists():
        raise SystemExit(f"missing catalogue {path}; run `python -m kiosk.i18n.build extract`")
    with path.open("rb") as f:
        catalogue = read_po(f, locale=lang)
    with path.with_suffix(".mo").open("wb") as f:
        write_mo(f, catalogue)


# The back office's catalogue: Python (N_ tables) and Jinja2 templates of store_server/admin.
ADMIN_PACKAGE = PACKAGE.parent / "store_server" / "admin"
ADMIN_LOCALE = ADMIN_PACKAGE / "locale"
ADMIN_DOMAIN = "admin"
ADMIN_KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
_JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}


def admin_catalogue_path(lang: str) -> Path:
    return ADMIN_LOCALE / lang / "LC_MESSAGES" / f"{ADMIN_DOMAIN}.po"


def extract_admin() -> Catalog:
    template = Catalog(project="loyalty-kiosk back office", charset="utf-8")
    method_map = [("locale/**", "ignore"), ("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")]
    for filename, lineno, message, comments, _context in extract_from_dir(
            ADMIN_PACKAGE, method_map=method_map, keywords=ADMIN_KEYWORDS, comment_tags=("TRANSLATORS:",),
            options_map={"templates/**.html": _JINJA_OPTIONS}):
        template.add(message, locations=[(filename, lineno)], auto_comments=comments)
    return template


if __name__ == "__main__":
    if sys.argv[1:] == ["extract"]:
        update(extract(), LOCALE_DIR / f"{DOMAIN}.pot", catalogue_path, "loyalty-kiosk")
        update(extract_admin(), ADMIN_LOCALE / f"{ADMIN_DOMAIN}.pot", admin_catalogue_path, "loyalty-kiosk back office")
    compile_all()
