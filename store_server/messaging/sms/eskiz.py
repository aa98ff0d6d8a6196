"""Eskiz.uz (Uzbekistan): log in with email and password for a bearer token, then send by form.

Wire format from the reference doc §5.1. The doc does not say how errors look; per Eskiz's public API
docs (https://documenter.getpostman.com/view/663428/RzfmES4z) an expired or bad token is HTTP 401,
after which we log in again once; other refusals are HTTP 4xx with {"status": "error", "message": ...}
(e.g. a text that does not match an approved template).
"""

from __future__ import annotations

import threading

import requests

from .base import GatewayError, SendResult, phone_digits
from .http_call import DEFAULT_TIMEOUT, call, json_of


class EskizGateway:
    name = "eskiz"

    def __init__(self, email: str, password: str, *, sender: str = "4546", callback_url: str = "",
                 base_url: str = "https://notify.eskiz.uz/api", timeout: float = DEFAULT_TIMEOUT,
                 session: requests.Session | None = None) -> None:
        self.base_url, self.sender, self.callback_url = base_url.rstrip("/"), sender, callback_url
        self.timeout = timeout
        self._credentials = {"email": email, "password": password}
        self._session = session
        self._token: str | None = None
        self._lock = threading.Lock()  # one login at a time; tokens live for weeks

    def _login(self) -> str:
        response = call(self.name, "POST", f"{self.base_url}/auth/login", data=self._credentials,
                        timeout=self.timeout, session=self._session)
        body = json_of(self.name, response) if response.content else {}
        token = (body.get("data") or {}).get("token") if isinstance(body, dict) else None
        if response.status_code != 200 or not token:
            raise GatewayError(f"{self.name}: login refused (HTTP {response.status_code}); check sms.eskiz "
                               "email and password", retryable=False)
        return token

    def send(self, phone: str, text: str) -> SendResult:
        form = {"mobile_phone": phone_digits(phone), "message": text, "from": self.sender}
        if self.callback_url:
            form["callback_url"] = self.callback_url
        for attempt in (1, 2):
            with self._lock:
                if self._token is None:
                    self._token = self._login()
                token = self._token
            response = call(self.name, "POST", f"{self.base_url}/message/sms/send", data=form,
                            headers={"Authorization": f"Bearer {token}"}, timeout=self.timeout,
                            session=self._session)
            if response.status_code == 401 and attempt == 1:
                with self._lock:
                    self._token = None  # expired: log in again and retry once
                continue
            break
        if response.status_code == 401:
            raise GatewayError(f"{self.name}: token refused after a fresh login", retryable=False)
        body = json_of(self.name, response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("id"):
            return SendResult(self.name, str(body["id"]), "queued")
        message = body.get("message") if isinstance(body, dict) else body
        raise GatewayError(f"{self.name}: refused (HTTP {response.status_code}): {str(message)[:120]}",
                           retryable=False)
