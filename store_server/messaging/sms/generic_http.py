"""Any HTTP SMS provider described in config: URL, method, body template and a success rule.

Placeholders {phone} (+E.164), {phone_digits}, {text} and {sender} are filled in the URL query, the
headers and every string inside `body` (a dict sent as JSON or as a form). A response succeeds when
its HTTP status is in `success.http_status` and, if given, the JSON field `success.json_field` equals
`success.equals` or the body contains `success.body_contains`. `message_id_field` is a dotted path
into the JSON answer ("data.id", "messages.0.id").
"""

from __future__ import annotations

import re
from typing import Any

import requests

from .base import GatewayError, SendResult, phone_digits
from .http_call import DEFAULT_TIMEOUT, call

_PLACEHOLDER = re.compile(r"\{(phone|phone_digits|text|sender)\}")


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def _dig(data: Any, path: str) -> Any:
    for key in path.split("."):
        if isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        elif isinstance(data, dict) and key in data:
            data = data[key]
        else:
            return None
    return data


class GenericHttpGateway:
    def __init__(self, url: str, *, name: str = "generic_http", method: str = "POST", body: dict | None = None,
                 body_format: str = "json", params: dict | None = None, headers: dict | None = None,
                 success: dict | None = None, message_id_field: str = "", sender: str = "",
                 failure_retryable: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 session: requests.Session | None = None) -> None:
        if body_format not in ("json", "form"):
            raise GatewayError(f"{name}: body_format must be json or form, not {body_format!r}", retryable=False)
        self.name, self.url, self.method = name, url, method.upper()
        self.body, self.body_format, self.params, self.headers = body, body_format, params or {}, headers or {}
        self.success = {"http_status": [200, 201, 202], **(success or {})}
        self.message_id_field, self.sender = message_id_field, sender
        self.failure_retryable, self.timeout = failure_retryable, timeout
        self._session = session

    def send(self, phone: str, text: str) -> SendResult:
        values = {"phone": phone, "phone_digits": phone_digits(phone), "text": text, "sender": self.sender}
        kwargs: dict[str, Any] = {"params": _fill(self.params, values), "headers": _fill(self.headers, values)}
        if self.body is not None:
            kwargs["json" if self.body_format == "json" else "data"] = _fill(self.body, values)
        response = call(self.name, self.method, self.url, timeout=self.timeout, session=self._session, **kwargs)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not self._succeeded(response, data):
            detail = response.text[:120].replace("\n", " ")
            retryable = self.failure_retryable and response.status_code < 400
            raise GatewayError(f"{self.name}: refused (HTTP {response.status_code}): {detail}", retryable=retryable)
        message_id = _dig(data, self.message_id_field) if self.message_id_field else None
        return SendResult(self.name, None if message_id is None else str(message_id), "queued")

    def _succeeded(self, response: requests.Response, data: Any) -> bool:
        rule = self.success
        if response.status_code not in rule["http_status"]:
            return False
        if "json_field" in rule and _dig(data, rule["json_field"]) != rule.get("equals"):
            return False
        return "body_contains" not in rule or rule["body_contains"] in response.text
