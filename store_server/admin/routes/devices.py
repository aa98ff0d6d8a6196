"""Devices (owner only): enrolment tokens with their QR, the list with what each kiosk reported, revoking."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Depends, Form, Request

from ... import devices, shops
from ...data.db import write_transaction
from ...errors import DomainError
from .. import audit
from ..web import Admin, back, check_csrf, owner_only, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]


def qr_data_uri(payload: str) -> str:
    """The QR as an inline SVG image: no file on disk and no URL that would serve the token twice."""
    image = qrcode.make(payload, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def _page(request: Request, admin: Admin, **context):
    owner_only(admin)
    with request.app.state.engine.connect() as conn:
        rows = devices.listing(conn)
        shop_list = shops.listing(conn)
    return render(request, "devices.html", admin, rows=rows, shops=shop_list, **context)


@router.get("/devices")
def device_list(request: Request, admin: Signed):
    return _page(request, admin)


def server_url(request: Request) -> str:
    """What the kiosk should call: the address this browser reached us at (the shop network's)."""
    return str(request.base_url).rstrip("/")


@router.post("/devices/token")
def new_token(request: Request, admin: Signed, csrf: Annotated[str, Form()] = "",
              role: Annotated[str, Form(max_length=16)] = "", hours: Annotated[int, Form(ge=1, le=168)] = 24,
              shop: Annotated[str, Form(max_length=32)] = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    try:
        with write_transaction(request.app.state.engine) as conn:
            token = devices.create_enrolment_token(conn, role=role, ttl=timedelta(hours=hours), shop=shop or None)
            shop = shops.pick(conn, shop or None)
            audit.record(conn, account=admin.name, action="enrolment_token_created",
                         details={"role": role, "hours": hours, "shop": shop}, address=admin.address)
    except DomainError as e:
        return _page(request, admin, error=e.code, error_message=e.message)
    payload = "lk://enrol?" + urlencode({"server": server_url(request), "token": token, "role": role})
    # Shown once, on the answer to the POST: reloading the list does not show it again.
    return _page(request, admin, token=token, payload=payload, qr=qr_data_uri(payload), token_hours=hours,
                 token_role=role, token_shop=shop)


@router.post("/devices/{device_id}/revoke")
def revoke(device_id: str, request: Request, admin: Signed, csrf: Annotated[str, Form()] = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    with write_transaction(request.app.state.engine) as conn:
        devices.revoke(conn, device_id)
        audit.record(conn, account=admin.name, action="device_revoked", target=device_id, address=admin.address)
    request.app.state.device_keys.forget(device_id)  # this process at once; the others within their cache time
    return back("/admin/devices", ok="device_revoked")
