"""Build the gateway the server sends through from the [sms] config table.

    [[sms.gateways]]            # tried in this order
    type = "turbosms"
    token = "..."
    sender = "MyShop"

    [[sms.gateways]]
    type = "gsm_modem"
    port = "/dev/serial/by-id/usb-SimTech_SIM7600-if02-port0"

One entry gives that gateway, several a FailoverGateway. The console gateway exists only in demo
mode, and is what an empty config gets there.

A shop of a chain may send through its own gateways (its provider account, its sender name, its own GSM modem,
whose received texts are then that shop's), tried in order like the chain's; the chain's serve every shop
without its own (ShopGateways). A modem's port is in one table only:

    [[sms.shops.ALA1.gateways]]
    type = "eskiz"
    email = "..."
    password = "..."
    sender = "4546"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Gateway, GatewayError
from .console import ConsoleGateway
from .eskiz import EskizGateway
from .failover import FailoverGateway
from .generic_http import GenericHttpGateway
from .gsm_modem import GsmModemGateway
from .smsc import SmscGateway
from .turbosms import TurboSmsGateway
from .twilio import TwilioGateway


class GatewayConfigError(GatewayError):
    """The [sms] config is wrong; the message names the key."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


# type -> (class, required keys, optional keys); keys are the constructors' keyword names.
KINDS: dict[str, tuple[type, set[str], set[str]]] = {
    "turbosms": (TurboSmsGateway, {"token", "sender"}, {"base_url", "timeout"}),
    "smsc": (SmscGateway, {"login", "password"}, {"sender", "base_url", "timeout"}),
    "eskiz": (EskizGateway, {"email", "password"}, {"sender", "callback_url", "base_url", "timeout"}),
    "twilio": (TwilioGateway, {"account_sid", "auth_token"},
               {"from_number", "messaging_service_sid", "api_key_sid", "status_callback", "base_url", "timeout"}),
    "generic_http": (GenericHttpGateway, {"url"},
                     {"name", "method", "body", "body_format", "params", "headers", "success", "message_id_field",
                      "sender", "failure_retryable", "timeout"}),
    "gsm_modem": (GsmModemGateway, {"port"}, {"baudrate", "timeout", "send_timeout"}),
    "console": (ConsoleGateway, set(), {"outbox_file"}),
}


def build_one(entry: dict[str, Any], *, demo: bool, console_outbox: str | Path | None = None) -> Gateway:
    kind = entry.get("type")
    if kind not in KINDS:
        raise GatewayConfigError(f"sms gateway type {kind!r} is unknown; use one of {', '.join(sorted(KINDS))}")
    cls, required, optional = KINDS[kind]
    options = {k: v for k, v in entry.items() if k != "type"}
    missing = required - options.keys()
    if missing:
        raise GatewayConfigError(f"sms gateway {kind}: missing {', '.join(sorted(missing))}")
    unknown = options.keys() - required - optional
    if unknown:
        raise GatewayConfigError(f"sms gateway {kind}: unknown key(s) {', '.join(sorted(unknown))}")
    if kind == "console":
        outbox = options.get("outbox_file") or console_outbox
        if not outbox:
            raise GatewayConfigError("sms gateway console: set outbox_file")
        return ConsoleGateway(outbox, demo=demo)
    return cls(**options)


class ShopGateways:
    """The chain's gateway, and the gateways of shops that have their own ([sms.shops.CODE] in server.toml).

    Used where a Gateway is: `send` goes through the chain's; outbound.send_logged picks a shop's own with
    `for_shop(code)` when the message is for that shop's customer (codes, welcomes, notices, alerts)."""

    def __init__(self, default: Gateway, shops: dict[str, Gateway]) -> None:
        self.default, self.shops = default, shops
        self.name = getattr(default, "name", type(default).__name__)
        members: list = []
        for gateway in (default, *shops.values()):
            members += [g for g in getattr(gateway, "gateways", [gateway]) if g not in members]
        self.gateways = members  # every configured gateway: the modem poller and delivery polls find theirs

    def for_shop(self, code: str | None) -> Gateway:
        return self.shops.get(code, self.default) if code else self.default

    def send(self, phone: str, text: str):
        return self.default.send(phone, text)

    def member(self, name: str):
        for gateway in self.gateways:
            if getattr(gateway, "name", None) == name:
                return gateway
        raise KeyError(name)


def serving(config: dict[str, Any], codes: list[str]) -> dict[str, dict]:
    """Which gateways serve each shop, read from the [sms] table (nothing is built or opened):
    {"main": {"gateways": "turbosms -> gsm_modem", "own": False}, "ALA1": {"gateways": "eskiz", "own": True}}."""
    def names(table: dict) -> str:
        entries = table.get("gateways") if "gateways" in table else ([table] if table.get("type") else [])
        return " -> ".join(str(e.get("name") or e.get("type")) for e in entries if isinstance(e, dict)) or "console"

    own = config.get("shops") or {}
    chain = names({k: v for k, v in config.items() if k != "shops"})
    return {code: {"gateways": names(own[code]) if code in own else chain, "own": code in own} for code in codes}


def build_gateway(config: dict[str, Any], *, demo: bool, console_outbox: str | Path | None = None):
    """The gateway to send through, from the [sms] table (a dict with a `gateways` list, or one entry), with the
    shops' own ones from [sms.shops.CODE] (ShopGateways)."""
    shops = config.get("shops") or {}
    if not isinstance(shops, dict) or not all(isinstance(t, dict) and t.get("gateways") for t in shops.values()):
        raise GatewayConfigError("sms.shops: one table per shop code, each with its [[sms.shops.CODE.gateways]]")
    _one_table_per_modem(config, shops)
    chain = _build_chain({k: v for k, v in config.items() if k != "shops"}, demo=demo, console_outbox=console_outbox)
    if not shops:
        return chain
    own = {}
    for code, table in shops.items():
        try:
            own[code] = _build_chain(table, demo=demo, console_outbox=console_outbox)
        except GatewayConfigError as e:
            raise GatewayConfigError(f"sms.shops.{code}: {e}") from None
    return ShopGateways(chain, own)


def _one_table_per_modem(config: dict[str, Any], shops: dict[str, Any]) -> None:
    """A GSM modem is the chain's or one shop's: its texts are answered for that shop and its SIM read by one
    poller, so the same port in two tables is refused (two pollers would read and delete each other's texts)."""
    def modem_ports(table: dict) -> list[str]:
        entries = table.get("gateways") if "gateways" in table else [table]
        return [str(e.get("port")) for e in entries or [] if isinstance(e, dict) and e.get("type") == "gsm_modem"]

    owner: dict[str, str] = {}
    tables = [("sms", {k: v for k, v in config.items() if k != "shops"})]
    tables += [(f"sms.shops.{code}", table) for code, table in shops.items()]
    for where, table in tables:
        for port in modem_ports(table):
            if port in owner:
                raise GatewayConfigError(f"{where}: the GSM modem {port} is already in {owner[port]}; "
                                         "a modem belongs to the chain or to one shop")
            owner[port] = where


def _build_chain(config: dict[str, Any], *, demo: bool, console_outbox: str | Path | None = None) -> Gateway:
    entries = config.get("gateways") if "gateways" in config else ([config] if config.get("type") else [])
    if not isinstance(entries, list):
        raise GatewayConfigError("sms.gateways must be a list of tables ([[sms.gateways]])")
    if not entries:
        if not demo:
            raise GatewayConfigError("no SMS gateway configured: add an [[sms.gateways]] entry")
        entries = [{"type": "console"}]
    gateways = [build_one(entry, demo=demo, console_outbox=console_outbox) for entry in entries]
    return gateways[0] if len(gateways) == 1 else FailoverGateway(gateways)
