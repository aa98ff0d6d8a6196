"""SMSC (smsc.ru / smsc.kz / smscentre.com): form parameters, JSON answers with fmt=3.

Wire format from the reference doc §5.1. Error and status codes are SMSC's published tables
(https://smsc.ru/api/http/send/ "Коды ошибок", https://smsc.ru/api/http/status_messages/), which the
reference doc does not list. SMSC answers HTTP 200 even for errors; the JSON says what happened.
"""

from __future__ import annotations

import requests

from .base import GatewayError, SendResult, phone_digits
from .http_call import DEFAULT_TIMEOUT, call, json_of

ERRORS = {
    1: ("bad parameters", False),
    2: ("login or password refused; check sms.smsc login/password", False),
    3: ("not enough money on the SMSC account", True),
    4: ("our IP is blocked for a while after repeated errors", True),
    5: ("bad date format", False),
    6: ("message refused (text or sender name)", False),
    7: ("phone number format refused", False),
    8: ("message cannot be delivered to this number", False),
    9: ("too many identical or simultaneous requests", True),
}
# status.php "status" codes.
STATUS = {-1: "queued", 0: "sent", 1: "delivered", 2: "delivered", 4: "delivered", 3: "failed", 20: "failed",
          22: "failed", 23: "failed", 24: "failed", 25: "failed"}


class SmscGateway:
    name = "smsc"

    def __init__(self, login: str, password: str, *, sender: str = "", base_url: str = "https://smsc.ru",
                 timeout: float = DEFAULT_TIMEOUT, session: requests.Session | None = None) -> None:
        self.base_url, self.sender, self.timeout = base_url.rstrip("/"), sender, timeout
        self._auth = {"login": login, "psw": password}
        self._session = session

    def _call(self, path: str, method: str, params: dict) -> dict:
        params = {**self._auth, **params, "fmt": 3}
        kwargs = {"data": params} if method == "POST" else {"params": params}
        response = call(self.name, method, f"{self.base_url}/sys/{path}", timeout=self.timeout,
                        session=self._session, **kwargs)
        data = json_of(self.name, response)
        if not isinstance(data, dict):
            raise GatewayError(f"{self.name}: unexpected answer {str(data)[:80]}", retryable=True)
        if "error_code" in data or "error" in data:
            code = data.get("error_code")
            meaning, retryable = ERRORS.get(code, (str(data.get("error")), False))
            raise GatewayError(f"{self.name}: error {code}: {meaning}", retryable=retryable)
        return data

    def send(self, phone: str, text: str) -> SendResult:
        # POST keeps the text and password out of proxy logs; charset=utf-8 because the default is cp1251.
        params = {"phones": phone_digits(phone), "mes": text, "charset": "utf-8"}
        if self.sender:
            params["sender"] = self.sender
        data = self._call("send.php", "POST", params)
        if "id" not in data:
            raise GatewayError(f"{self.name}: no message id in {str(data)[:80]}", retryable=True)
        return SendResult(self.name, str(data["id"]), "queued")

    def status(self, message_id: str, phone: str) -> str:
        data = self._call("status.php", "GET", {"phone": phone_digits(phone), "id": message_id})
        if data.get("status") == -3:
            raise GatewayError(f"{self.name}: message {message_id} not found (-3)", retryable=False)
        return STATUS.get(data.get("status"), "sent")
