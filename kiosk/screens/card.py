from __future__ import annotations

from kivy.factory import Factory
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from ..flows.balance import HISTORY_ROWS, Balance
from ..flows.cashier import shop_config
from ..flows.details import missing_fields
from ..i18n import _
from ..messages import message
from .base import KioskScreen
from .format import money
from .qr import qr_texture


class HistoryList(BoxLayout):
    """As many recent operations as the panel has room for, newest first."""

    rows = ListProperty()

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("orientation", "vertical")
        super().__init__(**kwargs)
        self.bind(rows=self._fill, size=self._fill)

    def _fill(self, *_args) -> None:
        # rows are made once and refilled: building widgets from kv rules is the slow part of a card screen
        if not hasattr(self, "_pool"):
            self._pool = [Factory.HistoryRow() for _ in range(HISTORY_ROWS)]
            self._filler = Factory.Widget()
        self.clear_widgets()
        if not self.rows:
            return
        step = self._pool[0].height + self.spacing
        room = max(0, int((self.height + self.spacing) // step))
        for row, (day, what, amount) in zip(self._pool, self.rows[:room], strict=False):
            row.day, row.what, row.amount, row.minus = day, what, amount, amount.startswith("-")
            self.add_widget(row)
        self.add_widget(self._filler)


class CardScreen(KioskScreen):
    number = StringProperty("")
    balance = StringProperty("")
    details = StringProperty("")
    warning = StringProperty("")
    history = BooleanProperty(False)
    can_activate = BooleanProperty(False)
    # the shop asks questions this customer has not answered: "Add your details" (kiosk/flows/details.py)
    can_add_details = BooleanProperty(False)
    till = BooleanProperty(False)
    # the card's own QR, shown only to its owner after an SMS code (Find my card): the page link when the shop
    # has a public_url, else the number our scanners read
    qr_texture = ObjectProperty(None, allownone=True)
    qr_payload = StringProperty("")

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        self._qr = self.ids.qr.__self__  # ids are weak: taken out of the row, the QR must live on

    def render(self, app) -> None:
        summary = Balance.of(app.identify.view, role=app.role,
                             till_activation=shop_config(app.backend).get("till_activation", "direct"))
        # a pre-issued card accrues at once (spec), so the till works on it; a blocked one takes nothing
        self.till = app.role == "cashier" and summary.state != "blocked" and not summary.notice == "offline_as_of"
        self.number = summary.number
        self.balance = money(summary.balance)
        parts = [summary.phone_masked] if summary.phone_masked else []
        if summary.discount_percent:
            parts.append(_("Discount {percent}%").format(percent=summary.discount_percent))
        self.details = "   ".join(parts)
        self.can_activate = summary.can_activate
        view = app.identify.view
        self.can_add_details = not self.can_activate and bool(
            missing_fields(shop_config(app.backend).get("questionnaire"), view.card if view else None))
        if summary.notice == "offline_as_of":
            self.warning = _("Offline: balance as of {when}").format(when=summary.as_of.strftime("%d.%m %H:%M"))
        else:
            self.warning = message(summary.notice) or message(app.identify.notice)
        view = app.identify.view
        payload = ""
        if view is not None and view.own and app.role != "cashier":
            link = view.card.get("card_link")
            payload = link if isinstance(link, str) and link.startswith(("http://", "https://")) \
                else f"lk://card/{summary.number}"
        if payload != self.qr_payload:  # drawn once per card, not on every redraw
            self.qr_payload = payload
            self.qr_texture = qr_texture(payload) if payload else None
        row, qr = self.ids.card_row, self._qr
        if self.qr_texture is None and qr.parent is not None:
            row.remove_widget(qr)
        elif self.qr_texture is not None and qr.parent is None:
            row.add_widget(qr, index=1)  # between the card's lines and the history
        # the server ledger's movement kinds (store_server/ledger/entries.py)
        kinds = {"accrual": _("earned"), "redemption": _("spent"), "return_take": _("returned goods"),
                 "return_refund": _("refunded"), "reversal": _("cancelled"), "expiry": _("expired")}
        self.ids.history.rows = [(f"{h.at:%d.%m}", kinds.get(h.kind, h.kind), money(h.amount, signed=True))
                                 for h in summary.history]
        self.history = bool(summary.history)
        if not self.history:
            self.ids.history_panel.size = (0, 0)
