"""The shop's card-number format on the server: the `card_rules` setting read with the kiosk's own CardRules
(loyalty_common/cards.py), and the checks where card numbers enter: card ranges, the customer import, look-ups.

Without the setting (the default) the server takes any number, as before, and each kiosk reads scans by its own
kiosk.toml [cards]. With it, the shop's rules win on its devices (sent in GET /config) and here. A card the
server already has is always found, whatever the rules say: digital cards (numbered from next_digital_card) and
cards issued before the rules were set stay usable.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine

from loyalty_common.cards import WHY, CardRules, read_number

from . import cards, shop
from .errors import DomainError, NotFound


def rules_for(conn: Connection, shop_code: str | None = None) -> CardRules | None:
    """The rules of a shop (shop -> chain -> default), or the chain's; None when no rules are set."""
    raw = shop.get(conn, "card_rules", shop=shop_code)
    return CardRules.from_config(raw, where="card_rules") if raw else None


def refusal(number: str, rules: CardRules, reason: str) -> str:
    return f"{number} is not a card number of this shop: {WHY[reason]} ({rules.describe()})"


def normalise(rules: CardRules | None, number: str) -> str:
    """A number entering the server (a range, an import line) as the card it is by the rules ("LK10001" ->
    "10001", "0000123" -> "123" when zeros are stripped); DomainError `card_format` says why not."""
    if rules is None:
        return number
    card, reason = read_number(number, rules)
    if card is None:
        raise DomainError("card_format", refusal(number, rules, reason), reason=reason)
    return card


def lookup(engine: Engine, number: str, shop_code: str | None) -> dict:
    """cards.lookup for a device of `shop_code`: a number the server does not know is read by the shop's rules.
    A printed form of a known card ("LK10001", "0000123" with zeros stripped) finds the card; a number that
    cannot be one of the shop's cards is `card_not_ours`; a well-formed unknown number stays `card_not_found`."""
    try:
        return cards.lookup(engine, number)
    except NotFound as e:
        if e.code != "card_not_found":
            raise
        with engine.connect() as conn:
            rules = rules_for(conn, shop_code)
        if rules is None:
            raise
        card, reason = read_number(number, rules)
        if card is None:
            raise NotFound("card_not_ours", refusal(number, rules, reason), reason=reason) from None
        if card != number:
            return cards.lookup(engine, card)
        raise
