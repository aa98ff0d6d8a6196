"""Twilio Programmable Messaging: form POST with HTTP Basic auth, JSON answers.

Wire format from the reference doc §5.1. Error bodies and codes follow Twilio's public docs
(https://www.twilio.com/docs/usage/twilios-response and /docs/api/errors): {"code", "message",
"more_info", "status"}; 20003 = authentication failed, 21211 = invalid 'To' number, etc.
"""

from __future__ import annotations

import requests

from .base import GatewayError, SendResult
from .http_call import DEFAULT_TIMEOUT, call, json_of

# Queue overflow on the sender's side: another gateway can deliver now.
RETRYABLE_CODES = {20429, 21611, 30001}
STATUS = {"accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued", "sent": "sent",
          "delivered": "delivered", "read": "delivered", "undelivered": "failed", "failed": "failed",
          "canceled": "failed"}


class TwilioGateway:
    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str = "",
                 messaging_service_sid: str = "", api_key_sid: str = "", status_callback: str = "",
                 base_url: str = "https://api.twilio.com", timeout: float = DEFAULT_TIMEOUT,
                 session: requests.Session | None = None) -> None:
        if not (from_number or messaging_service_sid):
            raise GatewayError("twilio: set sms from_number or messaging_service_sid", retryable=False)
        self.timeout, self.status_callback = timeout, status_callback
        self._sender = {"MessagingServiceSid": messaging_service_sid} if messaging_service_sid else \
            {"From": from_number}
        self._auth = (api_key_sid or account_sid, auth_token)
        self._messages = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages"
        self._session = session

    def _check(self, response: requests.Response) -> dict:
        body = json_of(self.name, response)
        if response.status_code in (200, 201) and isinstance(body, dict):
            return body
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else str(body)[:80]
        if response.status_code in (401, 403):
            raise GatewayError(f"{self.name}: credentials refused ({code} {message}); check sms.twilio "
                               "account_sid and auth_token", retryable=False)
        raise GatewayError(f"{self.name}: refused {code}: {message}", retryable=code in RETRYABLE_CODES)

    def send(self, phone: str, text: str) -> SendResult:
        form = {"To": phone, "Body": text, **self._sender}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        response = call(self.name, "POST", f"{self._messages}.json", data=form, auth=self._auth,
                        timeout=self.timeout, session=self._session)
        body = self._check(response)
        if not body.get("sid"):
            raise GatewayError(f"{self.name}: no message sid in the answer", retryable=True)
        return SendResult(self.name, body["sid"], STATUS.get(body.get("status", ""), "queued"))

    def status(self, message_id: str, phone: str) -> str:
        response = call(self.name, "GET", f"{self._messages}/{message_id}.json", auth=self._auth,
                        timeout=self.timeout, session=self._session)
        return STATUS.get(self._check(response).get("status", ""), "sent")
