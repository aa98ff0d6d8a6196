"""What a technician watches: GET /healthz, GET /metrics (Prometheus text) and the journal lines for operations.

The metrics themselves are in store_server/metrics.py. With `serve --workers N` every worker counts into
$PROMETHEUS_MULTIPROC_DIR (cli.py sets it) and /metrics adds them up.
"""

from __future__ import annotations

import logging
import os
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..logs import event
from ..metrics import BACKLOG, LATENCY, OPERATIONS, REQUESTS

log = logging.getLogger("store_server.ledger.operations")
router = APIRouter()

class Measure:
    """Counts and times every request by its route template (/cards/{number}, never the card number itself).

    Plain ASGI rather than @app.middleware("http"): that wrapper costs the hottest call, the card look-up,
    a noticeable share of its requests per second."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = getattr(scope.get("route"), "path", None) or "unmatched"
            REQUESTS.labels(path, scope["method"], str(status)).inc()
            LATENCY.labels(path).observe(time.perf_counter() - started)


def install(app) -> None:
    app.add_middleware(Measure)
    app.include_router(router)


def batch_seen(device: dict, ops: list[dict], results: list[dict], backlog: int | None) -> None:
    """Counts a batch's outcomes and writes the lines an operator looks for: activations and refusals."""
    if backlog is not None:
        BACKLOG.labels(device.get("name") or device["id"]).set(backlog)
    by_id = {op["id"]: op for op in ops}
    who = f"{device.get('name') or device['id']} ({device.get('role')})"
    for res in results:
        op = by_id.get(res["id"]) or {}
        kind, status = op.get("type", "?"), res.get("status")
        OPERATIONS.labels(kind, status).inc()
        payload = op.get("payload") or {}
        result = res.get("result") or {}
        if status == "rejected":
            event(log, "refused %s %s from %s: %s (%s)", kind, res["id"], who, res.get("error"),
                  res.get("message"), device=device["id"], operation=res["id"], type=kind, error=res.get("error"))
        elif status == "applied" and kind == "register":
            card = result.get("card_number") or payload.get("card_number")
            if result.get("pending_review"):
                event(log, "activation of card %s for %s waits for an operator's review (from %s)", card,
                      str(payload.get("phone")), who, device=device["id"], card=card)
            else:
                event(log, "card %s activated for %s by %s", card, str(payload.get("phone")), who,
                      device=device["id"], card=card)


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request) -> JSONResponse:
    """200 when the database answers at this release's schema and the SMS gateway is configured; else 503."""
    from ..data import migrate

    checks: dict = {}
    try:
        with request.app.state.engine.connect() as conn:
            seen = migrate.state(conn)
        checks["database"] = "ok"
        checks["schema"] = "ok" if seen.up_to_date else f"at {seen.current}, needs {seen.head}"
    except Exception as e:  # noqa: BLE001 - whatever the database says, the answer is "not healthy"
        checks["database"] = f"unreachable: {type(e).__name__}"
        checks["schema"] = "unknown"
    gateway = request.app.state.gateway
    checks["sms"] = f"ok ({getattr(gateway, 'name', type(gateway).__name__)})"
    healthy = checks["database"] == "ok" and checks["schema"] == "ok"
    return JSONResponse({"status": "ok" if healthy else "failing", **checks}, status_code=200 if healthy else 503)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
