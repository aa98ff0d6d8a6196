"""Translation for .kv rules: `_('Text', app.lang)` re-runs when app.lang changes."""

from __future__ import annotations

from ..i18n import _ as translate


def _(message: str, *_depends_on) -> str:
    return translate(message)
