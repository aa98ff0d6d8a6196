"""Routes providers post to: delivery reports and inbound messages (activation by SMS).

    POST /api/v1/sms/hooks/{secret}/status/{provider}    twilio | eskiz | smsc | generic
    POST /api/v1/sms/hooks/{secret}/inbound/{provider}   twilio | generic

Providers cannot hold a device key, so the URL carries a secret (`[sms] webhook_secret` in server.toml),
compared in constant time; without one the routes answer 404, as if they did not exist. Twilio also signs
each request (X-Twilio-Signature: HMAC-SHA1 under the account's auth token of the URL and the form fields);
its routes check that signature too, with `[sms] twilio_auth_token` or the auth token of the Twilio gateway,
and refuse unsigned or wrongly signed requests with 403. Bodies may be JSON or form-encoded.

An inbound text does not say its shop, but the webhook it arrives on does, and the answer (welcome, STOP's
confirmation) goes out through that shop's own gateways ([sms.shops.CODE], registry.ShopGateways), in its
language and under its name (`inbound_shop`): the shop's own `webhook_secret` in [sms.shops.CODE], the shop's own
Twilio account (its auth token signed the request), or the receiving number (Twilio's To, the generic `to`) being
the `from_number` or `sender` of one of the shop's gateways. Anything else is the chain's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...data.db import run_write
from ...errors import DomainError, Forbidden, NotFound
from ...security import same
from . import delivery

router = APIRouter(prefix="/sms/hooks/{secret}")

STATUS_PROVIDERS = ("twilio", "eskiz", "smsc", "generic")
INBOUND_PROVIDERS = ("twilio", "generic")


def _own_tables(sms: dict) -> dict[str, dict]:
    return {str(code): table for code, table in (sms.get("shops") or {}).items() if isinstance(table, dict)}


def _authorise(request: Request, secret: str) -> str | None:
    """The chain's webhook secret (None) or a shop's own ([sms.shops.CODE] webhook_secret: that shop's code)."""
    sms = request.app.state.config.sms or {}
    expected = str(sms.get("webhook_secret") or "")
    if expected and same(secret, expected):
        return None
    for code, table in _own_tables(sms).items():
        if table.get("webhook_secret") and same(secret, str(table["webhook_secret"])):
            return code
    raise NotFound("not_found", "no such route")


def _digits(value: object) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def inbound_shop(sms: dict, *, by_secret: str | None, twilio_token: str | None, to: object) -> str | None:
    """The shop whose own gateway an inbound text reached (see the module's note), or None for the chain's."""
    if by_secret is not None:
        return by_secret
    own = _own_tables(sms)
    chain_tokens = _twilio_tokens({k: v for k, v in sms.items() if k != "shops"})
    for code, table in own.items():
        gateways = [g for g in table.get("gateways") or [] if isinstance(g, dict)]
        if twilio_token and twilio_token not in chain_tokens and any(
                g.get("type") == "twilio" and str(g.get("auth_token") or "") == twilio_token for g in gateways):
            return code
        receiving = _digits(to)
        if len(receiving) >= 5 and any(receiving in (_digits(g.get("from_number")), _digits(g.get("sender")))
                                       for g in gateways):
            return code
    return None


def twilio_signature(auth_token: str, url: str, fields: dict) -> str:
    """Twilio's request signature: base64(HMAC-SHA1(token, url + each field name and value, sorted by name))."""
    data = url + "".join(f"{k}{fields[k]}" for k in sorted(fields))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def _twilio_tokens(sms: dict) -> list[str]:
    """Every Twilio account's token: the chain's and each shop's own ([sms.shops.CODE] gateways), since a delivery
    report does not say which shop's account sent the message."""
    tokens = [str(sms["twilio_auth_token"])] if sms.get("twilio_auth_token") else []
    own = [table for table in (sms.get("shops") or {}).values() if isinstance(table, dict)]
    for gateway in [g for table in (sms, *own) for g in (table.get("gateways") or [])]:
        if isinstance(gateway, dict) and gateway.get("type") == "twilio" and gateway.get("auth_token"):
            tokens.append(str(gateway["auth_token"]))
    return tokens


def _check_twilio(request: Request, fields: dict) -> str:
    """The auth token whose signature the request carries (it names the account); 403 without one."""
    tokens = _twilio_tokens(request.app.state.config.sms or {})
    given = request.headers.get("x-twilio-signature", "")
    if not tokens:
        raise Forbidden("signature_unverifiable", "no Twilio auth token is configured to check the signature")
    # Twilio signs the URL it called; behind a TLS proxy that is the public https address.
    urls = {str(request.url), str(request.url.replace(scheme="https"))}
    signed = next((t for t in tokens for u in urls if given and same(given, twilio_signature(t, u, fields))), None)
    if signed is None:
        raise Forbidden("bad_signature", "the X-Twilio-Signature header does not match")
    return signed


async def _fields(request: Request) -> dict:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(raw or b"{}")
        except ValueError as e:
            raise DomainError("bad_request", "the body is not JSON") from e
        if not isinstance(body, dict):
            raise DomainError("bad_request", "the body must be a JSON object")
        return body
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


@router.post("/status/{provider}")
async def delivery_report(secret: str, provider: str, request: Request) -> dict:
    _authorise(request, secret)
    if provider not in STATUS_PROVIDERS:
        raise NotFound("unknown_provider", f"provider must be one of {', '.join(STATUS_PROVIDERS)}")
    fields = await _fields(request)
    if provider == "twilio":
        _check_twilio(request, fields)
    try:
        gateway, message_id, status = delivery.parse_report(provider, fields)
    except ValueError as e:
        raise DomainError("bad_report", str(e)) from e
    def record(conn) -> str:
        try:
            return delivery.record_status(conn, gateway=gateway, message_id=message_id, status=status)
        except delivery.UnknownMessage as e:
            raise NotFound("unknown_message", str(e)) from e

    # Reads the log's status, then writes: a write transaction, waited for in a worker thread, not on the loop.
    now = await run_in_threadpool(run_write, request.app.state.engine, record)
    return {"status": now}


@router.post("/inbound/{provider}")
async def inbound_message(secret: str, provider: str, request: Request) -> Response:
    from ..activation import receive  # activation imports this package; import late to avoid a cycle

    by_secret = _authorise(request, secret)
    if provider not in INBOUND_PROVIDERS:
        raise NotFound("unknown_provider", f"provider must be one of {', '.join(INBOUND_PROVIDERS)}")
    fields = await _fields(request)
    token = None
    if provider == "twilio":
        token = _check_twilio(request, fields)
        sender, text, to = fields.get("From"), fields.get("Body"), fields.get("To")
    else:
        sender, text = fields.get("from") or fields.get("phone"), fields.get("text") or fields.get("message")
        to = fields.get("to")
    if not sender or text is None:
        raise DomainError("bad_request", "an inbound message needs the sender and the text")
    shop_code = inbound_shop(request.app.state.config.sms or {}, by_secret=by_secret, twilio_token=token, to=to)
    outcome = await run_in_threadpool(receive, request.app.state.engine, request.app.state.gateway,
                                      sender=str(sender), text=str(text), source=provider, shop_code=shop_code)
    if provider == "twilio":  # Twilio wants TwiML; an empty answer means "no automatic reply from Twilio"
        return Response('<?xml version="1.0" encoding="UTF-8"?><Response></Response>', media_type="text/xml")
    return Response(json.dumps({"outcome": outcome.outcome}), media_type="application/json")
