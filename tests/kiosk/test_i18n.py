"""Every screen word is translatable and translated, and the shipped font can draw every translation."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from PIL import Image, ImageDraw, ImageFont

from kiosk import fonts, i18n
from kiosk.i18n.build import catalogue_path, extract

KIOSK = Path(i18n.__file__).resolve().parents[1]
TRANSLATED = [lang for lang in i18n.LANGUAGES if lang != "en"]
# Python files that put words on screens; flows and the store speak in codes only.
PY_SOURCES = sorted([*KIOSK.glob("screens/*.py"), *KIOSK.glob("flows/*.py"), KIOSK / "app.py",
                     KIOSK / "messages.py"])
KV_SOURCES = sorted(KIOSK.glob("screens/*.kv"))
WORDS = re.compile(r"[^\W\d_]{2,}[\s,;:!?]+[^\W\d_]{2,}")  # two words: a sentence, not an id or a format
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _forms(value) -> tuple[str, ...]:
    """A message's text(s): one string, or one per plural form (ngettext)."""
    return value if isinstance(value, tuple) else (value,)


def _catalogue(lang: str):
    with catalogue_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


@pytest.fixture(scope="module")
def template():
    return extract()


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalogue_translates_every_message_of_the_source(template, lang):
    catalogue = _catalogue(lang)
    missing = [m.id for m in template if m.id and not (catalogue.get(m.id) and all(_forms(catalogue.get(m.id).string)))]
    assert not missing, f"{lang}: untranslated, run `python -m kiosk.i18n.build extract`: {missing}"
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert not fuzzy, f"{lang}: fuzzy (unchecked) translations: {fuzzy}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_the_placeholders(lang):
    for m in _catalogue(lang):
        if m.id and m.string:
            wanted = sorted(PLACEHOLDER.findall(_forms(m.id)[-1]))
            for form in _forms(m.string):
                assert sorted(PLACEHOLDER.findall(form)) == wanted, (lang, m.id)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_plural_messages_have_every_form_of_the_language(lang):
    catalogue = _catalogue(lang)
    plurals = [m for m in catalogue if isinstance(m.id, tuple)]
    assert plurals, "no plural messages: numbers meet nouns somewhere"
    for m in plurals:
        assert len(m.string) == catalogue.num_plurals and all(m.string), (lang, m.id)


def test_ngettext_picks_the_ukrainian_form_for_the_number():
    i18n.set_language("uk")
    try:
        shown = [i18n.ngettext("{n} waiting to sync", "{n} waiting to sync", n).format(n=n)
                 for n in (1, 3, 5, 21)]
    finally:
        i18n.set_language("en")
    assert shown == ["1 операція в черзі", "3 операції в черзі",
                     "5 операцій у черзі", "21 операція в черзі"]


@pytest.mark.parametrize("lang", TRANSLATED)
def test_compiled_catalogue_is_the_one_gettext_uses(lang):
    catalogue = _catalogue(lang)
    i18n.set_language(lang)
    try:
        for m in catalogue:
            if isinstance(m.id, tuple):
                assert i18n.ngettext(*m.id, 1) == m.string[0], f"{lang}: stale .mo"
            elif m.id:
                assert i18n._(m.id) == m.string, f"{lang}: stale .mo, run `python -m kiosk.i18n.build`"
    finally:
        i18n.set_language("en")


def _bypassing_strings_py(source: str) -> list[str]:
    """Sentences in Python code that do not go through _() or N_(); docstrings, logs and exceptions are
    for engineers and may stay English."""
    tree = ast.parse(source)
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            # SQL and log lines are for machines and engineers
            if name in ("_", "N_", "ngettext", "query", "execute", "executemany") \
                    or owner in ("log", "logging", "logger"):
                exempt.update(id(n) for n in ast.walk(node))
        elif isinstance(node, ast.Raise | ast.Assert):
            exempt.update(id(n) for n in ast.walk(node))
        elif isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                exempt.add(id(node.body[0].value))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in exempt and WORDS.search(n.value)]


KV_TEXT = re.compile(r"^\s*(text|hint_text|title)\s*:\s*(?P<expr>.+)$")


def _bypassing_strings_kv(source: str) -> list[str]:
    """`text:` rules whose words are a bare literal instead of `_('...', app.lang)`."""
    found = []
    for line in source.splitlines():
        match = KV_TEXT.match(line)
        if not match:
            continue
        expr = re.sub(r"""\b_\(\s*(['"]).*?\1""", "", match.group("expr"))  # drop translated literals
        for literal in re.findall(r"""(['"])(.*?)\1""", expr):
            if any(ch in string.ascii_letters or ch.isalpha() for ch in literal[1]):
                found.append(literal[1])
    return found


def test_the_bypass_checks_catch_untranslated_words():
    assert _bypassing_strings_py('label.text = "Your balance"\n') == ["Your balance"]
    assert _bypassing_strings_py('label.text = _("Your balance")\n') == []
    assert _bypassing_strings_kv("    text: 'Pay now'\n") == ["Pay now"]
    assert _bypassing_strings_kv("    text: _('Pay now', app.lang)\n") == []
    assert _bypassing_strings_kv("    text: '7'\n") == []


@pytest.mark.parametrize("path", PY_SOURCES + KV_SOURCES, ids=lambda p: p.name)
def test_no_user_visible_words_bypass_gettext(path):
    source = path.read_text(encoding="utf-8")
    check = _bypassing_strings_kv if path.suffix == ".kv" else _bypassing_strings_py
    assert check(source) == [], f"{path.name}: wrap these in _() (or N_() in tables)"


def _glyph(font, ch: str) -> bytes:
    image = Image.new("L", (64, 64))
    ImageDraw.Draw(image).text((8, 8), ch, font=font, fill=255)
    return image.tobytes()


@pytest.mark.parametrize("face", [fonts.REGULAR, fonts.BOLD], ids=lambda p: p.stem)
def test_shipped_font_draws_every_letter_of_every_translation(face):
    font = ImageFont.truetype(str(face), 32)
    tofu = _glyph(font, "\ue000")  # a private-use code point: the font's "missing" box
    letters = set("ӘәҒғҚқҢңӨөҰұҮүҺһІі" "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
    for lang in [*TRANSLATED, "en"]:
        for m in _catalogue(lang):
            letters.update("".join(_forms(m.string or m.id)))
        letters.update(i18n.LANGUAGES[lang])
    missing = sorted(ch for ch in letters if not ch.isspace() and _glyph(font, ch) == tofu)
    assert not missing, f"{face.name} cannot draw {''.join(missing)}"


def test_font_check_notices_a_missing_glyph():
    # Noto Sans has no Devanagari: the check above would report it
    font = ImageFont.truetype(str(fonts.REGULAR), 32)
    assert _glyph(font, "क") == _glyph(font, "\ue000")
