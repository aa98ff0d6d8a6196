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


def build_gateway(config: dict[str, Any], *, demo: bool, console_outbox: str | Path | None = None) -> Gateway:
    """The gateway to send through, from the [sms] table (a dict with a `gateways` list, or one entry)."""
    entries = config.get("gateways") if "gateways" in config else ([config] if config.get("type") else [])
    if not isinstance(entries, list):
        raise GatewayConfigError("sms.gateways must be a list of tables ([[sms.gateways]])")
    if not entries:
        if not demo:
            raise GatewayConfigError("no SMS gateway configured: add an [[sms.gateways]] entry")
        entries = [{"type": "console"}]
    gateways = [build_one(entry, demo=demo, console_outbox=console_outbox) for entry in entries]
    return gateways[0] if len(gateways) == 1 else FailoverGateway(gateways)
