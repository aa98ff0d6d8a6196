"""Try gateways in order; move to the next only when the failure is retryable."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from loyalty_common.phones import mask

from .base import Gateway, GatewayError, SendResult

log = logging.getLogger(__name__)


class FailoverGateway:
    """Looks like one gateway. `SendResult.gateway` names the member that took the message.

    A non-retryable error (invalid number, bad credentials, a text a provider refuses) stops the chain:
    the next gateway would either fail the same way or hide a configuration mistake.
    """

    name = "failover"

    def __init__(self, gateways: Sequence[Gateway]) -> None:
        if not gateways:
            raise GatewayError("failover needs at least one gateway", retryable=False)
        self.gateways = list(gateways)

    def member(self, name: str) -> Gateway:
        """The gateway that sent a message, for status queries and inbound polling."""
        for gateway in self.gateways:
            if gateway.name == name:
                return gateway
        raise KeyError(name)

    def send(self, phone: str, text: str) -> SendResult:
        failures: list[str] = []
        for gateway in self.gateways:
            try:
                return gateway.send(phone, text)
            except GatewayError as e:
                if not e.retryable:
                    raise
                log.warning("SMS to %s via %s failed, trying the next gateway: %s", mask(phone), gateway.name, e)
                failures.append(str(e))
        raise GatewayError("every SMS gateway failed: " + "; ".join(failures), retryable=True)
