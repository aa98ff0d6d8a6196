from __future__ import annotations

from datetime import datetime

from kivy.properties import BooleanProperty, StringProperty

from ..i18n import _
from .base import KioskScreen


def money(minor: int) -> str:
    return f"{minor / 100:,.2f}".replace(",", " ")


class CardScreen(KioskScreen):
    number = StringProperty("")
    balance = StringProperty("")
    details = StringProperty("")
    warning = StringProperty("")
    history = StringProperty("")
    can_activate = BooleanProperty(False)

    def render(self, app) -> None:
        view = app.identify.view
        card = view.card
        self.number = card["number"]
        self.balance = money(card["balance"])
        parts = [card["phone_masked"]] if card.get("phone_masked") else []
        if card.get("kind") == "discount":
            parts.append(_("Discount {percent}%").format(percent=card["discount_percent"]))
        self.details = "   ".join(parts)
        self.can_activate = card["state"] == "issued"
        if view.from_cache:
            when = datetime.fromtimestamp(view.fetched_at).strftime("%d.%m %H:%M")
            self.warning = _("Offline: balance as of {when}").format(when=when)
        elif card["state"] == "issued":
            self.warning = _("This card is not activated yet. Activate it to keep your bonuses safe.")
        elif card["state"] == "blocked":
            self.warning = _("This card is blocked. Please ask at the till.")
        else:
            self.warning = ""
        kinds = {"accrual": _("earned"), "redemption": _("spent"), "reversal": _("returned")}
        self.history = "\n".join(
            f"{h['at'][:10]}   {kinds.get(h['kind'], h['kind'])}   {money(h['amount'])}"
            for h in card.get("history", [])[:5])
