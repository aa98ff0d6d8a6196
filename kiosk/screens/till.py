"""The cashier's screens: they draw the till flow the app holds in `app.till` (and the cashier's sign-in,
`app.signin`). They speak to the cashier."""

from __future__ import annotations

from datetime import datetime

from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty

from ..flows.cancel import CancelFlow, CancelState
from ..flows.return_ import ReturnFlow
from ..flows.sale import SaleFlow, SaleState
from ..i18n import _
from ..messages import attempts_left, message
from . import format
from .base import CodeEntryScreen, KioskScreen, RowsScreen
from .format import money


def kind_title(flow) -> str:
    return {SaleFlow: _("Sale"), ReturnFlow: _("Return"), CancelFlow: _("Cancel a sale")}[type(flow)]


def _when(at: str | None) -> str:
    try:
        return format.local(datetime.fromisoformat(at)).strftime("%d.%m %H:%M")
    except (TypeError, ValueError):
        return ""


def sale_line(sale: dict) -> str:
    """One of the card's sales as the server lists it: when, which receipt, how much, where and who."""
    first = "    ".join(filter(None, [_when(sale.get("at")),
                                      _("No. {receipt}").format(receipt=sale.get("receipt_no") or "?"),
                                      money(int(sale.get("amount") or 0))]))
    returned = int(sale.get("returned_amount") or 0)
    second = [sale.get("device_name") or "", sale.get("cashier_name") or ""]
    if returned:
        second.append(_("{amount} returned").format(amount=money(returned)))
    return first + ("\n" + " · ".join(filter(None, second)) if any(second) else "")


def receipt_lines(figures: dict, *, accrued: int | None, offline: bool = False) -> list[str]:
    """A receipt's figures, the preview's or the server's booking: the same lines, so nothing moves."""
    lines = [_("Amount: {amount}").format(amount=money(figures["amount"]))]
    if figures.get("discount"):
        lines.append(_("Discount: {amount}").format(amount=money(figures["discount"])))
    if figures.get("bonus_payment"):
        lines.append(_("Paid with bonuses: {amount}").format(amount=money(figures["bonus_payment"])))
    lines.append("[b]" + _("To pay: {amount}").format(amount=money(figures["to_pay"])) + "[/b]")
    if accrued is not None:
        lines.append(_("Bonus earned: {amount}").format(amount=money(accrued)))
    elif offline:
        lines.append(_("Offline: the bonus is calculated by the server."))
    return lines


class TillSignInScreen(KioskScreen):
    """The till's home while no cashier is signed in."""

    pin_text = StringProperty("")
    error = StringProperty("")

    def render(self, app) -> None:
        flow = app.signin
        self.pin_text = flow.masked if flow else ""
        error = message(flow.error) if flow else ""
        if flow is not None and flow.locked_until is not None:
            error += " " + _("Try again after {time}.").format(time=flow.locked_until.astimezone().strftime("%H:%M"))
        self.error = " ".join(filter(None, [error, attempts_left(flow.attempts_left if flow else None)]))

    def wipe(self) -> None:
        self.pin_text = ""


class TillAmountScreen(KioskScreen):
    """A number on the numpad and what it means: a receipt's amount and its preview, bonuses to spend, a
    return's amount, a receipt's number."""

    title = StringProperty("")
    card_line = StringProperty("")
    amount_text = StringProperty("")
    placeholder = StringProperty("0")
    preview_text = StringProperty("")
    error = StringProperty("")
    primary_text = StringProperty("")
    primary_event = StringProperty("confirm")
    side_text = StringProperty("")  # the one extra button above Back / the main button
    side_event = StringProperty("")
    row_text = StringProperty("")  # ... or between them, when the numpad is gone
    row_event = StringProperty("")
    back_text = StringProperty("")  # "Back" where it steps back, "Cancel receipt" where it drops the sale
    keys = BooleanProperty(True)  # the numpad: gone while a receipt's figures are frozen
    decimal = BooleanProperty(True)

    def render(self, app) -> None:
        flow = app.till
        self.title = kind_title(flow)
        self.card_line = _("Card {number} · balance {balance}").format(
            number=flow.card["number"], balance=money(int(flow.card.get("balance") or 0)))
        self.error = message(flow.error)
        self.preview_text, self.side_text, self.side_event, self.row_text, self.row_event = "", "", "", "", ""
        self.keys, self.decimal, self.placeholder = True, True, "0"
        self.primary_text, self.primary_event = _("Confirm"), "confirm"
        # Back on a sale's amount drops the receipt being rung up: the button says so; elsewhere it steps back
        self.back_text = (_("Cancel receipt") if isinstance(flow, SaleFlow) and flow.state is SaleState.AMOUNT
                          else _("Back"))
        if isinstance(flow, SaleFlow):
            self._sale(flow)
        elif flow.state.value == "receipt":
            self.title = _("Receipt number")
            self.card_line = _("Type the number printed on the receipt, or scan its QR code.")
            self.amount_text, self.placeholder, self.decimal = flow.receipt_entry.text, "…", False
            self.primary_text = _("Find the sale")
        elif isinstance(flow, ReturnFlow):
            sale = flow.sale
            self.amount_text = flow.entry.text
            self.card_line = _("Receipt {receipt} of {amount}: up to {left} can be returned").format(
                receipt=sale.get("receipt_no") or "?", amount=money(int(sale["amount"])), left=money(flow.left))
            lines = [_("Money back: {amount}").format(amount=money(flow.money_back()))]
            if flow.refund():
                lines.append(_("Bonuses given back: {amount}").format(amount=money(flow.refund())))
            self.preview_text = "\n".join(lines)

    def _sale(self, flow: SaleFlow) -> None:
        state = flow.state
        if state is SaleState.AMOUNT:
            self.amount_text = flow.entry.text
            self.primary_text, self.primary_event = _("Next"), "preview"
            return
        if state is SaleState.BONUS:
            self.title = _("Pay with bonuses")
            self.card_line = _("Up to {max} of this receipt (balance {balance})").format(
                max=money(flow.max_bonus_payment), balance=money(flow.balance))
            self.amount_text = flow.bonus_entry.text
            self.side_text = _("All {amount}").format(amount=money(flow.max_bonus_payment))
            self.side_event = "use_max"
            self.primary_text, self.primary_event = _("Apply"), "apply_bonus"
            return
        # the preview: frozen figures, no numpad; only Back changes the amount
        self.keys = False
        self.title = _("Receipt")
        self.amount_text = money(flow.amount)
        self.preview_text = "\n".join(receipt_lines(flow.receipt, accrued=flow.accrual, offline=flow.offline))
        if flow.bonus_payment:
            self.row_text, self.row_event = _("Without bonuses"), "no_bonus"
        elif flow.max_bonus_payment:
            self.row_text = _("Pay with bonuses")
            self.row_event = "choose_bonus"


class TillCodeScreen(CodeEntryScreen):
    body = StringProperty("")
    target = "till"  # whose events the buttons send: app.till_event or app.identify_event

    def render(self, app) -> None:
        flow = app.till
        self.body = _("A code was sent to the phone of card {number}. Ask the customer for it.").format(
            number=flow.card["number"])
        self._draw(flow.code, flow.error, app)

    def _draw(self, code, error: str | None, app) -> None:
        self.code_text = " ".join(code.entry.text.ljust(6, "•")) if code else ""
        self.error = " ".join(filter(None, [message(error), attempts_left(code.attempts_left if code else None)]))
        self.update_resend(app)

    def update_resend(self, app) -> None:
        self.show_resend(app.code_resend_in())

    def event(self, name: str) -> None:
        from kivy.app import App

        app = App.get_running_app()
        (app.till_event if self.target == "till" else app.identify_event)(name)


class IdentifyCodeScreen(TillCodeScreen):
    """A customer found by the phone they say: the code the server sent to that phone, read out."""

    target = "identify"

    def render(self, app) -> None:
        flow = app.identify
        self.body = _("A code was sent to {phone}. Ask the customer to read it out.").format(
            phone=app.mask(flow.code.phone if flow.code else None))
        self._draw(flow.code, flow.error, app)


class TillPickScreen(RowsScreen):
    title = StringProperty("")
    hint = StringProperty("")
    error = StringProperty("")

    def render(self, app) -> None:
        flow = app.till
        self.title = kind_title(flow)
        options = flow.options
        self.error = message(flow.error)
        if flow.error in ("needs_server", "server_unreachable"):
            self.hint = ""
        elif options:
            self.hint = _("Choose the sale, or scan the receipt's QR code:")
        else:
            self.hint = _("This card has no sales that could be chosen. Scan the receipt's QR code or type its "
                          "number.")
        rows = self.ids.rows
        rows.clear_widgets()
        room = max(1, int(rows.height // (app.scale * 88))) if rows.height > 10 else 4
        for index, sale in enumerate(options[:room]):
            button = Factory.RowButton(text=sale_line(sale))
            button.bind(on_release=lambda _b, i=index: app.till_event("pick", i))
            rows.add_widget(button)
        rows.add_widget(Factory.Widget())


class TillResultScreen(KioskScreen):
    title = StringProperty("")
    body = StringProperty("")
    error = StringProperty("")
    hint = StringProperty("")
    ok = BooleanProperty(True)
    refused = BooleanProperty(False)
    can_go_back = BooleanProperty(False)
    primary_text = StringProperty("")
    primary_event = StringProperty("")
    danger = BooleanProperty(False)  # the main button does what cannot be undone (cancelling a sale)

    def render(self, app) -> None:
        flow = app.till
        self.error, self.can_go_back, self.refused, self.ok, self.body = "", False, False, True, ""
        self.danger = False
        self.primary_text, self.primary_event = _("Done"), ""
        self.hint = _("Scan the next card to serve the next customer.")
        if isinstance(flow, CancelFlow) and flow.state is CancelState.CONFIRM:
            self.ok, self.hint = False, ""
            self.title = _("Cancel this sale?")
            self.body = sale_line(flow.target)
            self.primary_text, self.primary_event, self.can_go_back = _("Cancel the sale"), "confirm", True
            self.danger = True  # it cannot be undone: it looks unlike every other Confirm
            return
        outcome = getattr(flow, "outcome", None)
        if isinstance(flow, CancelFlow) and flow.state is CancelState.REFUSED or (
                outcome is not None and outcome.status == "refused"):
            # a sale was shown as saved a moment ago: the cashier must see that it did not go through
            self.ok, self.refused = False, True
            self.title = _("The server refused")
            self.error = message(flow.error if isinstance(flow, CancelFlow) else outcome.error)
            return
        if isinstance(flow, CancelFlow) and flow.state is CancelState.QUEUED or (
                isinstance(flow, ReturnFlow) and (outcome is None or outcome.status == "queued")):
            self.ok = False
            self.title = _("Queued")
            self.body = _("The server did not answer yet. It will be sent; give no money back until the "
                          "technician screen shows it went through.")
            return
        self.title = _("Done")
        if isinstance(flow, CancelFlow):
            self.body = _("The sale is cancelled.")
            return
        if isinstance(flow, ReturnFlow):
            self.body = "\n".join(return_lines(outcome.result or {}))
            return
        settled = outcome is not None and outcome.status == "done" and outcome.result
        if settled:
            result = outcome.result
            figures = {"amount": result.get("amount", flow.amount), "discount": result.get("discount", 0),
                       "bonus_payment": result.get("bonus_payment", result.get("redeemed", 0)),
                       "to_pay": result.get("to_pay", result.get("paid", flow.to_pay))}
            lines = receipt_lines(figures, accrued=int(result.get("accrued") or 0))
            if result.get("receipt_no"):  # the number a return or cancel finds this sale by, at any till
                lines.insert(0, _("Receipt No. {receipt}").format(receipt=result["receipt_no"]))
            if "balance" in result:
                lines.append(_("Balance now: {amount}").format(amount=money(result["balance"])))
        else:
            lines = receipt_lines(flow.receipt, accrued=flow.accrual, offline=flow.offline)
            lines.append(_("Waiting for the server's answer…"))
        self.body = "\n".join(lines)


def return_lines(result: dict) -> list[str]:
    """The server's own figures for a booked return: what the cashier hands back, what the card got."""
    lines = []
    if "money_refund" in result:
        lines.append("[b]" + _("Give back in money: {amount}").format(amount=money(result["money_refund"])) + "[/b]")
    refunded = result.get("bonus_payment_refunded", result.get("bonuses_refunded"))
    if refunded:
        lines.append(_("Bonuses given back: {amount}").format(amount=money(refunded)))
    if result.get("bonuses_taken"):
        lines.append(_("Bonus of the sale taken back: {amount}").format(amount=money(result["bonuses_taken"])))
    if result.get("shortfall"):
        lines.append(_("{amount} kept back for bonuses already spent.").format(amount=money(result["shortfall"])))
    if "balance" in result:
        lines.append(_("Balance now: {amount}").format(amount=money(result["balance"])))
    return lines
