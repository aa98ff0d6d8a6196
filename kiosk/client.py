"""Typed client of the store server API. Every call has a timeout; errors say whether a retry is safe."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from urllib3.exceptions import ProtocolError

from .config import ConfigError

# Longer than the server's wait for the SMS gateways ([otp] send_wait_seconds, 15 s) plus the request itself.
CODE_TIMEOUT = 25.0


class ServerError(Exception):
    """Base of everything the client raises."""


class ServerUnreachable(ServerError):
    """No answer (connection refused, timeout, DNS). The request may or may not have been applied,
    which is why operations are retried with the same ids."""


class ServerTimeout(ServerUnreachable):
    """The request went out but no answer came in time: it may have been applied. Only ever retried with
    the same operation ids."""


class ServerUntrusted(ServerUnreachable):
    """The TLS certificate did not verify. Treated like an outage (operations wait in the outbox), but the
    message tells the technician to set `ca_bundle` for a shop's own certificate."""


class ServerRefused(ServerError):
    """The server answered with a stable error code (wrong_code, card_not_found, ...)."""

    def __init__(self, status: int, code: str, message: str, details: dict) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class BadResponse(ServerError):
    """The server answered something that is not our JSON (a proxy page, garbage, a 5xx)."""


class ServerFault(BadResponse):
    """The server (or a proxy before it) answered 5xx: it failed on this request. The sync worker splits a
    batch that keeps getting one, so a single operation the server cannot take never stops the queue."""

    def __init__(self, status: int) -> None:
        super().__init__(f"server error HTTP {status}")
        self.status = status


def _reason(e: Exception) -> str:
    text = str(e)
    marker = "certificate verify failed"
    return text[text.index(marker):].split(")")[0] if marker in text else e.__class__.__name__


class StoreClient:
    def __init__(self, base_url: str, *, device_key: str | None = None, timeout: float = 5.0,
                 ca_bundle: str | None = None, connect_timeout: float = 3.0) -> None:
        self.base_url = base_url.rstrip("/") + "/api/v1"
        # requests has no default timeout: without one a half-open connection hangs the caller for good.
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.session = requests.Session()
        # Verification stays on; a shop with its own certificate names its CA file instead. It goes with
        # every request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a Session's `verify`.
        self.verify: str | bool = True
        if ca_bundle:
            if not Path(ca_bundle).is_file():
                raise ConfigError(f"ca_bundle {ca_bundle!r} is not a readable file (a PEM file with the shop's CA)")
            self.verify = ca_bundle
        self.device_key = device_key

    @property
    def device_key(self) -> str | None:
        return self._key

    @device_key.setter
    def device_key(self, key: str | None) -> None:
        self._key = key
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"
        else:
            self.session.headers.pop("Authorization", None)

    def _send(self, method: str, path: str, *, json: Any, timeout: float | None, headers: dict | None,
              repeatable: bool) -> requests.Response:
        send = lambda: self.session.request(  # noqa: E731
            method, self.base_url + path, json=json, verify=self.verify,
            timeout=(self.connect_timeout, timeout or self.timeout), headers=headers)
        try:
            return send()
        except requests.exceptions.ConnectionError as e:
            # The connection closed or was reset before any answer came: on a kept-alive connection that is
            # the server (or a proxy) closing it as idle at the very moment this request reused it, a race
            # HTTP/1.1 leaves to the client (RFC 9112 9.3.1). A request that is safe to repeat goes once more,
            # on a new connection; any other error (refused, timed out, TLS) is not this race.
            if not repeatable or not isinstance(e.args[0] if e.args else None, ProtocolError):
                raise
        return send()

    def _call(self, method: str, path: str, *, json: Any = None, timeout: float | None = None,
              headers: dict | None = None, repeatable: bool | None = None) -> Any:
        """`repeatable`: the request may be sent twice without doing twice (GETs by default; a batch carries
        operation ids the server applies once)."""
        try:
            resp = self._send(method, path, json=json, timeout=timeout, headers=headers,
                              repeatable=method == "GET" if repeatable is None else repeatable)
        except requests.exceptions.SSLError as e:
            raise ServerUntrusted("store server certificate not trusted: set ca_bundle in kiosk.toml "
                                  f"to the shop's CA file ({_reason(e)})") from e
        except requests.exceptions.ReadTimeout as e:
            raise ServerTimeout("store server did not answer in time (ReadTimeout)") from e
        except requests.RequestException as e:
            raise ServerUnreachable(f"store server unreachable: {e.__class__.__name__}") from e
        if resp.status_code >= 500:  # whatever the body: uvicorn's own 500 is plain text
            raise ServerFault(resp.status_code)
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise BadResponse(f"HTTP {resp.status_code} with a body that is not our JSON")
        if resp.status_code >= 400:
            code = body.get("error") if isinstance(body.get("error"), str) else "http_" + str(resp.status_code)
            details = {k: v for k, v in body.items() if k not in ("error", "message")}
            raise ServerRefused(resp.status_code, code, str(body.get("message", "")), details)
        return body

    def enrol(self, token: str, name: str, role: str) -> dict:
        return self._call("POST", "/devices/enrol", json={"enrolment_token": token, "name": name, "role": role})

    def config(self) -> dict:
        return self._call("GET", "/config")

    def heartbeat(self, status: dict) -> dict:
        """Tells the server how this device is (version, outbox backlog, last sync error); answers /config."""
        return self._call("POST", "/devices/heartbeat", json=status, repeatable=True)  # a report, not an act

    def card(self, number: str, timeout: float | None = None) -> dict:
        return self._call("GET", f"/cards/{requests.utils.quote(number, safe='')}", timeout=timeout)

    def customer_by_phone(self, phone: str, timeout: float | None = None, *, token: str | None = None) -> dict:
        """The active card of the customer with this phone (cashier devices only; the phone comes back masked).
        `token`: the customer's `identify` code, which the shop may require for a look-up by phone."""
        return self._call("GET", f"/customers?phone={requests.utils.quote(phone, safe='')}", timeout=timeout,
                          headers={"X-Verification-Token": token} if token else None)

    def cashier_login(self, *, pin: str | None = None, badge: str | None = None) -> dict:
        """A cashier signs in on this till: `{cashier_id, name, expires_at}`."""
        body = {"pin": pin} if pin is not None else {"badge": badge}
        return self._call("POST", "/cashiers/login", json=body)

    def receipt_preview(self, card_number: str, amount: int, bonus_payment: int = 0) -> dict:
        """What a sale would book now: discount, bonuses to spend (and their cap), to pay, accrual, code purpose."""
        return self._call("POST", "/receipts:preview", json={"card_number": card_number, "amount": amount,
                                                             "bonus_payment": bonus_payment}, repeatable=True)

    def card_sales(self, number: str, limit: int = 20) -> list[dict]:
        """The card's sales still returnable or cancellable, newest first, from any till of the shop."""
        body = self._call("GET", f"/cards/{requests.utils.quote(number, safe='')}/sales?limit={limit}")
        sales = body.get("sales")
        if not isinstance(sales, list) or not all(isinstance(s, dict) for s in sales):
            raise BadResponse("sales answer without a list of sales")
        return sales

    def sale(self, receipt: str) -> dict:
        """One sale by its operation id, printed receipt number or receipt QR payload."""
        return self._call("GET", f"/sales/{requests.utils.quote(receipt, safe='')}")

    def request_code(self, phone: str, purpose: str, *, card_number: str | None = None,
                     amount: int | None = None, lang: str | None = None) -> dict:
        # The server waits up to its send_wait_seconds (15 s by default) for the SMS gateways, then answers
        # anyway: giving up sooner would show an error for a code that is on its way (and a second request
        # would be refused resend_too_soon).
        return self._call("POST", "/otp", json={"phone": phone, "purpose": purpose, "card_number": card_number,
                                                "amount": amount, "lang": lang},
                          timeout=max(self.timeout, CODE_TIMEOUT))

    def check_code(self, challenge_id: str, code: str) -> dict:
        return self._call("POST", f"/otp/{challenge_id}/check", json={"code": code})

    def send_batch(self, operations: list[dict], timeout: float | None = None,
                   backlog: int | None = None) -> list[dict]:
        # backlog: what the device still holds, this batch included; the server shows it in /metrics.
        payload = {"operations": operations, **({"outbox_backlog": backlog} if backlog is not None else {})}
        # The send time lets the server measure this device's clock and correct the operations' times by it
        # (a Pi without its clock battery may think it is 1970); store_server/ledger/device_clock.py.
        body = self._call("POST", "/operations:batch", json=payload, timeout=timeout, repeatable=True,
                          headers={"X-Device-Time": datetime.now(UTC).isoformat()})
        results = body.get("results")
        if not isinstance(results, list) or not all(isinstance(r, dict) and "id" in r for r in results):
            raise BadResponse("batch answer without per-operation results")
        return results

    def close(self) -> None:
        self.session.close()
