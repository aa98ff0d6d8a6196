"""What a card screen says about a card: balance, state notice and recent history, per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..backend import CardView

HISTORY_ROWS = 5


@dataclass(frozen=True)
class HistoryEntry:
    kind: str  # accrual / redemption / reversal, as the server's ledger names them
    amount: int  # minor units, negative when bonuses left the card
    at: datetime


@dataclass(frozen=True)
class Balance:
    number: str
    balance: int
    state: str
    phone_masked: str | None
    discount_percent: int
    history: list[HistoryEntry]
    notice: str | None  # a messages.py code, or "offline_as_of" (then `as_of` says when)
    as_of: datetime | None
    can_activate: bool

    @classmethod
    def of(cls, view: CardView, *, role: str, till_activation: str = "direct") -> Balance:
        """`till_activation` is this till's right from the server's /config: direct, review or off."""
        card = view.card
        state = card.get("state", "active")
        issued = state == "issued"
        # a till's activation under review (the server's card view): activating again would only be refused
        pending = bool(card.get("activation_pending"))
        if view.from_cache:
            notice = "offline_as_of"
        elif state == "blocked":
            notice = "card_blocked"
        elif state == "replaced":  # a lost card the shop replaced: its balance lives on the new card
            notice = "card_replaced"
        elif issued and pending:
            notice = "activation_waits_for_approval"
        elif issued:
            # at the till the cashier is the one who must explain what to do
            notice = "not_activated_cashier" if role == "cashier" else "not_activated"
        else:
            notice = None
        history = []
        for h in card.get("history", [])[:HISTORY_ROWS]:
            try:
                at = datetime.fromisoformat(h["at"])
            except (KeyError, TypeError, ValueError):
                continue  # one odd row must not hide the balance
            history.append(HistoryEntry(h.get("kind", ""), int(h.get("amount", 0)), at))
        return cls(
            number=card["number"], balance=int(card.get("balance", 0)), state=state,
            phone_masked=card.get("phone_masked"),
            discount_percent=int(card.get("discount_percent") or 0) if card.get("kind") == "discount" else 0,
            history=history, notice=notice,
            as_of=datetime.fromtimestamp(view.fetched_at) if view.from_cache else None,
            can_activate=issued and not pending and not view.from_cache
            and (role != "cashier" or till_activation != "off"),
        )
