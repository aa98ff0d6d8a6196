"""The FastAPI application: routes under /api/v1, JSON errors with stable codes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..config import ConfigError, ServerConfig
from ..db import create_schema, make_engine
from ..errors import DomainError
from ..otp import OtpPolicy
from ..sms.base import Gateway
from . import card_page, routes


def build_gateway(config: ServerConfig) -> Gateway:
    try:
        from ..sms.registry import build_gateway as from_registry
    except ImportError:  # registry not installed yet: only the demo console gateway exists
        from_registry = None
    if from_registry is not None and config.sms:
        return from_registry(config.sms, demo=config.demo, console_outbox=config.sms_outbox_file)
    from ..sms.console import ConsoleGateway
    return ConsoleGateway(config.sms_outbox_file, demo=config.demo)


def create_app(config: ServerConfig, gateway: Gateway | None = None) -> FastAPI:
    engine = make_engine(config.database_url)
    create_schema(engine)
    app = FastAPI(title="Loyalty store server", version="1", docs_url="/api/docs",
                  openapi_url="/api/v1/openapi.json")
    try:  # a typo in [otp] stops the server at start, not at a customer's first code
        OtpPolicy.from_settings(config.otp)
    except DomainError as e:
        raise ConfigError(f"[otp]: {e.message}") from e
    app.state.config = config
    app.state.engine = engine
    app.state.gateway = gateway or build_gateway(config)

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(status_code=exc.status,
                            content={"error": exc.code, "message": exc.message, **exc.details})

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body')}: {err['msg']}" for err in exc.errors())
        return JSONResponse(status_code=422, content={"error": "bad_request", "message": problems})

    app.include_router(routes.router, prefix="/api/v1")
    app.include_router(card_page.router)  # the customers' /c/<link> pages, outside the device API
    from ..activation import attach_poller  # inbound activation through the GSM modem, when there is one

    attach_poller(app)
    return app
