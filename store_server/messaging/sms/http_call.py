"""One HTTP call to a provider, with a timeout, turning transport trouble into retryable GatewayErrors."""

from __future__ import annotations

from typing import Any

import requests

from .base import GatewayError

DEFAULT_TIMEOUT = 10.0  # seconds; a customer waits at the till, so a slow gateway must yield to the next


def call(gateway: str, method: str, url: str, *, timeout: float, session: requests.Session | None = None,
         **kwargs: Any) -> requests.Response:
    """Send the request; a timeout, a refused connection, HTTP 429 or 5xx is retryable elsewhere.

    A timeout may hide a message that was accepted after all, so the customer can receive it twice;
    senders of one-time codes should resend the same challenge's code rather than a fresh one.
    """
    try:
        response = (session or requests).request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout as e:
        raise GatewayError(f"{gateway}: no answer within {timeout:g} s", retryable=True) from e
    except requests.RequestException as e:
        raise GatewayError(f"{gateway}: cannot reach {url.split('?')[0]} ({type(e).__name__})",
                           retryable=True) from e
    if response.status_code >= 500:
        raise GatewayError(f"{gateway}: provider error HTTP {response.status_code}", retryable=True)
    if response.status_code == 429:
        raise GatewayError(f"{gateway}: rate limited (HTTP 429)", retryable=True)
    return response


def json_of(gateway: str, response: requests.Response) -> Any:
    """The JSON body; anything else (a captive portal, a proxy error page) is retryable elsewhere."""
    try:
        return response.json()
    except ValueError as e:
        raise GatewayError(f"{gateway}: answer is not JSON (HTTP {response.status_code})", retryable=True) from e
