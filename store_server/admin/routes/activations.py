"""Till activations waiting for review: the same approve / reject as `store-server activations`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool

from ...data.db import write_transaction
from ...errors import DomainError
from ...messaging import till_activation
from .. import audit
from ..web import Admin, back, check_csrf, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]


def _page(request: Request, admin: Admin, *, error: str | None = None, message: str | None = None,
          status: int = 200):
    everything = request.query_params.get("all") == "1"
    with request.app.state.engine.connect() as conn:
        rows = till_activation.listing(conn, everything=everything, shops=admin.shops)
    rows.reverse()  # newest first
    return render(request, "activations.html", admin, rows=rows, everything=everything, error=error,
                  error_message=message, status=status)


@router.get("/activations")
def activations(request: Request, admin: Signed):
    return _page(request, admin)


@router.post("/activations/{activation_id}/approve")
async def approve(activation_id: int, request: Request, admin: Signed, csrf: Annotated[str, Form()] = ""):
    check_csrf(admin, csrf)
    engine = request.app.state.engine
    try:
        row = await run_in_threadpool(till_activation.approve, engine, activation_id, by=admin.name,
                                      shops=admin.shops)
    except DomainError as e:
        return _page(request, admin, error=e.code, message=e.message, status=400)
    with write_transaction(engine) as conn:
        audit.record(conn, account=admin.name, action="activation_approved", target=row["card_number"],
                     details={"activation": activation_id}, address=admin.address)
    # After the commit, as the CLI does: a failed welcome SMS never undoes the approval.
    gateway = request.app.state.gateway
    sent = await run_in_threadpool(till_activation.send_welcome, engine, gateway, row)
    return back("/admin/activations", ok="activation_approved" if sent else "activation_approved_no_sms")


@router.post("/activations/{activation_id}/reject")
def reject(activation_id: int, request: Request, admin: Signed, csrf: Annotated[str, Form()] = "",
           reason: Annotated[str, Form(max_length=500)] = ""):
    check_csrf(admin, csrf)
    engine = request.app.state.engine
    try:
        row = till_activation.reject(engine, activation_id, by=admin.name, reason=reason, shops=admin.shops)
    except DomainError as e:
        return _page(request, admin, error=e.code, message=e.message, status=400)
    with write_transaction(engine) as conn:
        audit.record(conn, account=admin.name, action="activation_rejected", target=row["card_number"],
                     details={"activation": activation_id, "reason": reason.strip()}, address=admin.address)
    return back("/admin/activations", ok="activation_rejected")
