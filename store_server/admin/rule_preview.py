""""A receipt of X at time T on a card of type C in tier G earns Y": the back office's rule preview.

It runs `receipts.price`, the function a sale books with, on a card of that type with no balance and the tier
chosen (instead of the one a customer's turnover gives), in a read-only transaction; the rules that earned come
from `rules.applied`, the function `rules.accrual` sums.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from .. import cards
from ..ledger import receipts, rules, tiers
from ..ledger.operations import ADMIN_DEVICE, OperationContext


def local_time(text: str, timezone: str) -> datetime:
    """'2026-11-27T09:30' typed in the shop's time zone -> an aware datetime."""
    from ..errors import DomainError

    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DomainError("bad_time", "the time is not a date and time") from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=ZoneInfo(timezone))


def preview(conn: Connection, *, amount: int, at: datetime, card_type: str, tier: str | None,
            shop_code: str | None = None) -> dict:
    """With `shop_code`, as a till of that shop would book it (its rules, settings and time zone)."""
    if shop_code is not None:
        from .. import shops

        shops.get(conn, shop_code)  # an unknown shop is refused, not previewed as the chain
    ctx = OperationContext(conn, {"at": at, "payload": {}}, {**ADMIN_DEVICE, "shop": shop_code}, {})
    ctype = cards.get_type(conn, card_type)
    card = {"number": "", "kind": ctype["kind"], "discount_percent": ctype["discount_percent"],
            "card_type": ctype["name"], "customer_id": None}
    chosen = next((t for t in ctx.cached("tiers", tiers.load) if t.name == tier), None) if tier else None
    result = receipts.price(ctx, card, amount, 0, allow_partial=True, tier=chosen)
    zone = ctx.setting("timezone")
    earned = (rules.applied(ctx.cached("rules", rules.load), at=at, timezone=zone, card_type=ctype["name"],
                            shop=shop_code)
              if ctype["kind"] == "bonus" and result.to_pay else [])
    return {"amount": amount, "at": at.astimezone(ZoneInfo(zone)), "card_type": ctype["name"],
            "kind": ctype["kind"], "discount": result.discount, "to_pay": result.to_pay,
            "accrued": result.accrued, "tier": result.tier,
            "tier_bonus": result.to_pay * chosen.rate // 10_000 if chosen and ctype["kind"] == "bonus" else 0,
            "rules": [{"id": r.id, "name": r.name, "bonus": r.bonus(result.to_pay)} for r in earned]}
