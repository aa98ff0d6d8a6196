"""TurboSMS (Ukraine): JSON API with a bearer token.

Wire format from the reference doc §5.1; the error codes below are TurboSMS's published table
(https://turbosms.ua/api.html, "Коди відповідей"), which the reference doc does not list.
"""

from __future__ import annotations

import requests

from .base import GatewayError, SendResult, phone_digits
from .http_call import DEFAULT_TIMEOUT, call, json_of

SUCCESS = {800: "queued", 801: "sent", 802: "queued", 803: "sent"}
# Worth another gateway: our balance here is empty (203) or TurboSMS failed internally (5xx codes, 999).
RETRYABLE = {203, 500, 501, 502, 503, 504, 505, 506, 999}
AUTH = {103, 105, 106, 301}
STATUS = {"queued": "queued", "accepted": "queued", "sent": "sent", "delivered": "delivered", "read": "delivered",
          "expired": "failed", "undelivered": "failed", "rejected": "failed", "failed": "failed",
          "cancelled": "failed"}


class TurboSmsGateway:
    name = "turbosms"

    def __init__(self, token: str, sender: str, *, base_url: str = "https://api.turbosms.ua",
                 timeout: float = DEFAULT_TIMEOUT, session: requests.Session | None = None) -> None:
        self.base_url, self.sender, self.timeout = base_url.rstrip("/"), sender, timeout
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session = session

    def _post(self, path: str, body: dict) -> dict:
        response = call(self.name, "POST", f"{self.base_url}/{path}", json=body, headers=self._headers,
                        timeout=self.timeout, session=self._session)
        data = json_of(self.name, response)
        if not isinstance(data, dict):
            raise GatewayError(f"{self.name}: unexpected answer {str(data)[:80]}", retryable=True)
        return data

    def send(self, phone: str, text: str) -> SendResult:
        data = self._post("message/send.json",
                          {"recipients": [phone_digits(phone)], "sms": {"sender": self.sender, "text": text}})
        code = data.get("response_code")
        results = data.get("response_result") or []
        first = results[0] if isinstance(results, list) and results else {}
        if code in SUCCESS and first.get("response_code", 0) == 0 and first.get("message_id"):
            return SendResult(self.name, str(first["message_id"]), SUCCESS[code])
        if code in SUCCESS:  # accepted the request but not this recipient: its own code says why
            code, status = first.get("response_code"), first.get("response_status")
        else:
            status = data.get("response_status")
        raise self._error(code, status)

    def _error(self, code: object, status: object) -> GatewayError:
        if code in AUTH:
            return GatewayError(f"{self.name}: token refused ({status}); check sms.turbosms token", retryable=False)
        return GatewayError(f"{self.name}: refused with {code} {status}", retryable=code in RETRYABLE)

    def status(self, message_id: str, phone: str) -> str:
        data = self._post("message/status.json", {"messages": [message_id]})
        for item in data.get("response_result") or []:
            if str(item.get("message_id")) == message_id and item.get("status"):
                return STATUS.get(str(item["status"]).lower(), "sent")
        raise self._error(data.get("response_code"), data.get("response_status"))
