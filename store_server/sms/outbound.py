"""Sending an SMS through the shop's gateway and writing it to the message log."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from .. import clock
from ..db import sms_log
from .base import Gateway, GatewayError, SendResult


def send_logged(engine: Engine, gateway: Gateway, *, phone: str, text: str, purpose: str) -> SendResult:
    try:
        result = gateway.send(phone, text)
    except GatewayError as e:
        with engine.begin() as conn:
            conn.execute(insert(sms_log).values(phone=phone, purpose=purpose, gateway=gateway.name,
                                                status="failed", error=str(e)[:200], sent_at=clock.now()))
        raise
    with engine.begin() as conn:
        conn.execute(insert(sms_log).values(phone=phone, purpose=purpose, gateway=result.gateway,
                                            gateway_message_id=result.message_id, status=result.status,
                                            sent_at=clock.now()))
    return result
