"""Babel extractor for .kv files: finds `_('...')` calls in Kivy language rules."""

from __future__ import annotations

import ast
import re

# `_('text', app.lang)`: the extra argument only makes Kivy re-evaluate the rule when the language changes.
CALL = re.compile(r"""\b_\(\s*(?P<lit>(?P<q>['"])(?:\\.|(?!(?P=q)).)*(?P=q))\s*[,)]""")


def extract_kv(fileobj, keywords, comment_tags, options):
    for lineno, line in enumerate(fileobj.read().decode("utf-8").splitlines(), start=1):
        for match in CALL.finditer(line):
            # literal_eval keeps non-ASCII text intact (unicode_escape would turn "…" into mojibake)
            yield lineno, "_", ast.literal_eval(match.group("lit")), []
