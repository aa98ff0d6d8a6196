"""The cashier's screens: they draw the till flow the app holds in `app.till`."""

from __future__ import annotations

from datetime import datetime

from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty

from ..flows.cancel import CancelFlow, CancelState
from ..flows.redeem import RedeemFlow
from ..flows.return_ import ReturnFlow
from ..flows.sale import SaleFlow, SaleState
from ..i18n import _
from ..messages import attempts_left, message
from .base import CodeEntryScreen, KioskScreen, RowsScreen
from .format import money


def kind_title(flow) -> str:
    return {SaleFlow: _("Sale"), RedeemFlow: _("Pay with bonuses"), ReturnFlow: _("Return"),
            CancelFlow: _("Cancel an operation")}[type(flow)]


def operation_line(op: dict) -> str:
    try:
        when = datetime.fromisoformat(op["at"]).astimezone().strftime("%d.%m %H:%M")
    except (KeyError, ValueError):
        when = ""
    kind = {"sale": _("Sale"), "redeem": _("Pay with bonuses")}.get(op["type"], op["type"])
    amount = op.get("left", op["payload"].get("amount", 0))
    return f"{when}    {kind}    {money(amount)}"


class TillAmountScreen(KioskScreen):
    title = StringProperty("")
    card_line = StringProperty("")
    amount_text = StringProperty("")
    preview_text = StringProperty("")
    error = StringProperty("")
    primary_text = StringProperty("")
    primary_event = StringProperty("confirm")
    show_all = BooleanProperty(False)

    def render(self, app) -> None:
        flow = app.till
        self.title = kind_title(flow)
        self.card_line = _("Card {number} · balance {balance}").format(
            number=flow.card["number"], balance=money(int(flow.card.get("balance") or 0)))
        self.amount_text = flow.entry.text
        self.error = message(flow.error)
        self.show_all = isinstance(flow, RedeemFlow) and flow.balance > 0
        self.preview_text = ""
        self.primary_text, self.primary_event = _("Confirm"), "confirm"
        if isinstance(flow, SaleFlow):
            if flow.state is SaleState.PREVIEW:
                lines = []
                if flow.discount:
                    lines.append(_("Discount: {amount}").format(amount=money(flow.discount)))
                lines.append(_("To pay: {amount}").format(amount=money(flow.to_pay)))
                lines.append(_("Bonus for this purchase: {amount}").format(amount=money(flow.accrual))
                             if flow.accrual is not None else _("The bonus is calculated by the server."))
                self.preview_text = "\n".join(lines)
            else:
                self.primary_text, self.primary_event = _("Next"), "preview"
        elif isinstance(flow, ReturnFlow) and flow.sale is not None:
            self.card_line = _("Sale of {amount}, up to {left} can be returned").format(
                amount=money(flow.sale["payload"]["amount"]), left=money(flow.sale["left"]))


class TillCodeScreen(CodeEntryScreen):
    number = StringProperty("")

    def render(self, app) -> None:
        flow = app.till
        self.number = flow.card["number"]
        code = flow.code
        self.code_text = " ".join(code.entry.text.ljust(6, "•")) if code else ""
        self.error = " ".join(filter(None, [message(flow.error), attempts_left(code.attempts_left if code else None)]))
        self.update_resend(app)

    def update_resend(self, app) -> None:
        self.show_resend(app.code_resend_in())


class TillPickScreen(RowsScreen):
    title = StringProperty("")
    hint = StringProperty("")

    def render(self, app) -> None:
        flow = app.till
        self.title = kind_title(flow)
        options = flow.sales if isinstance(flow, ReturnFlow) else flow.candidates
        self.hint = (_("Choose the purchase:") if options else
                     _("This till has no operations with this card that could be chosen."))
        rows = self.ids.rows
        rows.clear_widgets()
        room = max(1, int(rows.height // (app.scale * 88))) if rows.height > 10 else 4
        for index, op in enumerate(options[:room]):
            button = Factory.RowButton(text=operation_line(op))
            button.bind(on_release=lambda _b, i=index: app.till_event("pick", i))
            rows.add_widget(button)
        rows.add_widget(Factory.Widget())


class TillResultScreen(KioskScreen):
    title = StringProperty("")
    body = StringProperty("")
    error = StringProperty("")
    ok = BooleanProperty(True)
    refused = BooleanProperty(False)
    can_go_back = BooleanProperty(False)
    primary_text = StringProperty("")
    primary_event = StringProperty("")

    def render(self, app) -> None:
        flow = app.till
        self.error, self.can_go_back, self.refused, self.ok = "", False, False, True
        self.primary_text, self.primary_event = _("Done"), ""
        if isinstance(flow, CancelFlow) and flow.state is CancelState.CONFIRM:
            self.ok = False
            self.title = _("Cancel this operation?")
            self.body = operation_line(flow.target)
            self.primary_text, self.primary_event, self.can_go_back = _("Cancel it"), "confirm", True
            return
        if isinstance(flow, CancelFlow) and flow.state is CancelState.REFUSED:
            self.ok, self.refused = False, True
            self.title, self.body, self.error = _("The server refused"), "", message(flow.error)
            return
        if isinstance(flow, CancelFlow) and flow.state is CancelState.QUEUED:
            self.ok = False
            self.title = _("Queued")
            self.body = _("The server did not answer yet. The cancellation will be sent; check the result "
                          "on the technician screen.")
            return
        outcome = getattr(flow, "outcome", None)
        if outcome is not None and outcome.status == "refused":
            # the operation was shown as saved a moment ago: the cashier must see that it did not go through
            self.ok, self.refused = False, True
            self.title, self.body, self.error = _("The server refused"), "", message(outcome.error)
            return
        self.title = _("Done")
        if isinstance(flow, CancelFlow):
            self.body = _("The operation is cancelled.")
            return
        lines = [{
            SaleFlow: _("Sale of {amount} saved."),
            RedeemFlow: _("{amount} paid with bonuses."),
            ReturnFlow: _("Return of {amount} saved."),
        }[type(flow)].format(amount=money(flow.amount))]
        if outcome is None or outcome.status == "queued":
            lines.append(_("Waiting for the server's answer…"))
        elif outcome.result:
            lines.extend(result_lines(outcome.result))
        self.body = "\n".join(lines)


def result_lines(result: dict) -> list[str]:
    """The server's own figures for a settled sale, redemption or return."""
    lines = []
    if result.get("accrued"):
        lines.append(_("Bonus accrued: {amount}").format(amount=money(result["accrued"])))
    if "money_refund" in result:
        lines.append(_("Give back in money: {amount}").format(amount=money(result["money_refund"])))
        if result.get("shortfall"):
            lines.append(_("{amount} kept back for bonuses already spent.").format(amount=money(result["shortfall"])))
    if "balance" in result:
        lines.append(_("Balance now: {amount}").format(amount=money(result["balance"])))
    return lines
