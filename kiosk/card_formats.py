"""Which card rules a kiosk reads scans and typed numbers with.

The shop's `card_rules` setting, when the server sends it in /config (kept in the device's copy of /config),
wins: the owner sets the format once for all the shop's kiosks and tills. The kiosk's own kiosk.toml [cards] is
the fallback: before enrolment, while the copy has none, and for a shop that left the setting empty. A copy the
kiosk cannot read (a newer server's key) falls back too, and says so in the log, rather than refusing every card.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache

from loyalty_common.cards import CardRules

log = logging.getLogger(__name__)

SHOP, KIOSK = "the shop's card_rules", "kiosk.toml [cards]"


def effective(shop_config: dict | None, own: CardRules) -> tuple[CardRules, str]:
    """(the rules, where they come from: SHOP or KIOSK)."""
    raw = (shop_config or {}).get("card_rules")
    if not isinstance(raw, dict) or not raw:
        return own, KIOSK
    rules = _read(json.dumps(raw, sort_keys=True))
    return (rules, SHOP) if rules is not None else (own, KIOSK)


@lru_cache(maxsize=8)
def _read(raw: str) -> CardRules | None:  # once per distinct setting, not per scan
    try:
        return CardRules.from_config(json.loads(raw), where="card_rules")
    except ValueError as e:
        log.warning("the shop's card_rules cannot be read here (%s); using kiosk.toml [cards]", e)
        return None


def sample(shop_config: dict | None, own_cards: dict) -> str | None:
    """The number printed on the shop's cards the self-test decodes: the shop's, else kiosk.toml's."""
    raw = (shop_config or {}).get("card_rules")
    if isinstance(raw, dict) and raw.get("sample"):
        return str(raw["sample"])
    return str(own_cards["sample"]) if own_cards.get("sample") else None
