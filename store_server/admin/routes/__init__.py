"""The back office's pages, one module per area; `mount` puts them all under /admin."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from ...errors import DomainError
from ..web import NeedLogin, Refused, render
from . import (
    accounts,
    activations,
    auth,
    cards,
    customers,
    devices,
    fraud,
    imports,
    journal,
    reports,
    rules,
    settings,
    sms,
    templates,
)

ROUTERS = (auth, reports, customers, journal, activations, devices, sms, templates, imports, accounts, rules, cards,
           settings, fraud)
STATIC = Path(__file__).parent.parent / "static"


def mount(app: FastAPI) -> None:
    for module in ROUTERS:
        app.include_router(module.router, prefix="/admin")
    app.mount("/admin/static", StaticFiles(directory=STATIC), name="admin-static")

    # Browsers ask for /favicon.ico on their own (an address typed, a page without a <link rel="icon">): the
    # back office's icon (drawn from favicon.svg by devtools/favicon_ico.py), not a 404 in the log.
    @app.get("/favicon.ico", include_in_schema=False)
    def _favicon():
        return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon",
                            headers={"Cache-Control": "public, max-age=86400"})

    # Last, after the pages and the static files: a mistyped back-office address is a page, not JSON.
    @app.get("/admin/{rest:path}", include_in_schema=False)
    def _unknown(rest: str, request: Request):
        return render(request, "refused.html", status=404, reason="not_found")

    @app.exception_handler(NeedLogin)
    async def _login(request: Request, _exc: NeedLogin):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/admin/"
        from urllib.parse import quote

        return RedirectResponse(f"/admin/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused):
        return render(request, "refused.html", status=403, reason=exc.reason)

    # A DomainError on an /admin page is a page, not the device API's JSON.
    device_handler = app.exception_handlers.get(DomainError)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        if request.url.path.startswith("/admin"):
            return render(request, "refused.html", status=exc.status, reason=exc.code, message=exc.message)
        return await device_handler(request, exc)
