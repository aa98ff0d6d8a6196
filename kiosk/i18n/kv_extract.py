"""Babel extractor for .kv files: finds `_('...')` calls in Kivy language rules."""

from __future__ import annotations

import re

# `_('text', app.lang)`: the extra argument only makes Kivy re-evaluate the rule when the language changes.
CALL = re.compile(r"""\b_\(\s*(?P<q>['"])(?P<msg>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*[,)]""")


def extract_kv(fileobj, keywords, comment_tags, options):
    for lineno, line in enumerate(fileobj.read().decode("utf-8").splitlines(), start=1):
        for match in CALL.finditer(line):
            yield lineno, "_", match.group("msg").encode().decode("unicode_escape"), []
