"""The FastAPI application: routes under /api/v1, JSON errors with stable codes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import ConfigError, ServerConfig
from ..data.db import PoolSettings, create_schema, make_engine
from ..errors import DomainError
from ..messaging.codes import OtpPolicy
from ..messaging.sms.base import Gateway
from . import card_page, limits, routes
from .shared_limits import SharedWindow

# Stable codes for the errors the framework raises itself (unknown path, wrong method, body problems).
_HTTP_CODES = {400: "bad_request", 401: "unauthorised", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "body_too_slow", 413: "body_too_large", 415: "bad_request",
               429: "too_many_requests"}


def build_gateway(config: ServerConfig) -> Gateway:
    try:
        from ..messaging.sms.registry import build_gateway as from_registry
    except ImportError:  # registry not installed yet: only the demo console gateway exists
        from_registry = None
    if from_registry is not None and config.sms:
        return from_registry(config.sms, demo=config.demo, console_outbox=config.sms_outbox_file)
    from ..messaging.sms.console import ConsoleGateway
    return ConsoleGateway(config.sms_outbox_file, demo=config.demo)


# Refusals worth a journal line: forbidden, conflicts, lock-outs and rate limits (codes, look-ups, enrolments).
_LOGGED_REFUSALS = {403, 409, 423, 429}
_refusals = logging.getLogger("store_server.refusals")


def check_stored_settings(engine) -> None:
    """A stored setting its type refuses (written before settings were checked, or by hand) stops the start."""
    from .. import settings_schema, shop

    with engine.connect() as conn:
        problems = settings_schema.check_stored(shop.stored(conn))
    if problems:
        key = problems[0].split(":", 1)[0]
        raise ConfigError(f"stored shop setting {problems[0]}; fix it with `store-server settings set {key} "
                          f"VALUE` or `store-server settings reset {key}`")


def _warn_unknown_sms_shops(engine, config: ServerConfig) -> None:
    """[sms.shops.CODE] for a shop the database does not have (a typo, a shop not added yet): its customers'
    SMS would quietly go through the chain's gateways, so the journal says so at start."""
    codes = set((config.sms or {}).get("shops") or {})
    if not codes:
        return
    from sqlalchemy import select

    from ..data.db import shops

    with engine.connect() as conn:
        known = set(conn.execute(select(shops.c.code)).scalars())
    for code in sorted(codes - known):
        logging.getLogger("store_server").warning(
            "server.toml [sms.shops.%s]: no shop %s in the database (store-server shops list); its gateways "
            "serve nobody", code, code)


def gateway_for(config: ServerConfig) -> Gateway:
    """The SMS gateway, or ConfigError saying what to configure (codes and welcomes need one)."""
    from ..messaging.sms.base import GatewayError

    if not config.sms and not config.demo:
        raise ConfigError("no SMS gateway configured: codes and welcome messages need one; add [[sms.gateways]] "
                          "to server.toml as docs/sms.md shows (or demo = true to print SMS instead)")
    try:
        return build_gateway(config)
    except GatewayError as e:
        raise ConfigError(f"[sms]: {e}; add a gateway to server.toml as docs/sms.md shows "
                          f"(or demo = true to print SMS instead of sending them)") from None


def _threads_match_pool(app: FastAPI, pool: PoolSettings) -> None:
    """The device routes run in the thread pool: as many threads as connections, so a thread never waits for
    a connection (pool_timeout), and no more, since on one interpreter extra threads only queue for the GIL."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = pool.pool_size + pool.max_overflow
        async with inner(a) as state:
            yield state

    app.router.lifespan_context = lifespan


def create_app(config: ServerConfig, gateway: Gateway | None = None) -> FastAPI:
    try:
        pool = PoolSettings.from_settings(config.database)
    except DomainError as e:
        raise ConfigError(f"[database]: {e.message}") from e
    engine = make_engine(config.database_url, pool)
    create_schema(engine)
    check_stored_settings(engine)
    from ..digital_card import ensure_secret

    ensure_secret(engine)
    from fastapi_offline import FastAPIOffline

    # Swagger UI and ReDoc with their scripts and styles served from here, not a CDN: a shop's network often
    # has no internet, and the pages would stay blank.
    app = FastAPIOffline(title="Loyalty store server", version="1", docs_url="/api/docs", redoc_url="/api/redoc",
                         static_url="/api/docs-static", openapi_url="/api/v1/openapi.json")
    try:  # a typo in [otp] stops the server at start, not at a customer's first code
        OtpPolicy.from_settings(config.otp)
    except DomainError as e:
        raise ConfigError(f"[otp]: {e.message}") from e
    try:
        app.state.limits = limits.configure(limits.Limits.from_settings(config.limits))
    except DomainError as e:
        raise ConfigError(f"[limits]: {e.message}") from e
    app.add_middleware(limits.RequestLimits, limits=app.state.limits, engine=engine)
    # Counted in memory on each look-up and in the database every second: no round trip per look-up.
    app.state.card_lookups = SharedWindow(engine, "card_lookup", app.state.limits.card_lookups_per_minute)
    app.state.config = config
    app.state.engine = engine
    if engine.dialect.name == "postgresql":  # the card look-up's own connections (api/fast_path.py)
        from ..data.async_reads import AsyncReads

        app.state.async_reads = AsyncReads(engine, pool.pool_size, pool.pool_timeout_seconds,
                                           pool.pool_recycle_seconds)
    from ..devices import KeyCache

    app.state.device_keys = KeyCache(config.device_auth_cache_seconds)
    app.state.gateway = gateway or gateway_for(config)
    _warn_unknown_sms_shops(engine, config)

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
        if exc.status in _LOGGED_REFUSALS:  # not 404s of unknown cards: every stray scan would be a line
            _refusals.info("refused %s %s: %s (%s)", request.method, request.url.path, exc.code, exc.message)
        return JSONResponse(status_code=exc.status,
                            content={"error": exc.code, "message": exc.message, **exc.details})

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return JSONResponse(status_code=422, content={"error": "bad_request",
                                                          "message": "the request body is not valid JSON"})
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body')}: {err['msg']}" for err in errors)
        return JSONResponse(status_code=422, content={"error": "bad_request", "message": problems})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own refusals (a body it cannot parse, e.g. nested past Python's recursion limit; an
        # unknown path) in the same shape as ours, never {"detail": ...}.
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code in (408, 413):
            headers["connection"] = "close"  # the rest of the body is not worth reading
        return JSONResponse(status_code=exc.status_code, content={"error": code, "message": message},
                            headers=headers)

    @app.exception_handler(PoolTimeout)
    async def _no_connection(_request: Request, _exc: PoolTimeout) -> JSONResponse:
        # Every connection of [database] pool_size + max_overflow busy for pool_timeout_seconds.
        return JSONResponse(status_code=503, headers={"retry-after": "2"}, content=limits.SERVER_BUSY)

    @app.exception_handler(DBAPIError)
    async def _database_error(_request: Request, exc: DBAPIError) -> JSONResponse:
        if not exc.connection_invalidated:
            raise exc  # a fault: the 500 below, with its traceback in the journal
        # The database dropped the connection (a restart, a failover); the pool has thrown its connections
        # away and the next request opens new ones.
        return JSONResponse(status_code=503, headers={"retry-after": "2"},
                            content={"error": "database_unavailable",
                                     "message": "the database connection was lost; try again shortly"})

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        # Logged by the server with its traceback (parameters hidden, see db.make_engine); the device gets
        # the documented shape and retries later.
        return JSONResponse(status_code=500, content={"error": "internal_error",
                                                      "message": "the server failed; try again later"})

    _threads_match_pool(app, pool)
    from . import observe, openapi

    openapi.install(app)  # every refusal declared in /api/v1/openapi.json, in the one Error shape
    observe.install(app)  # /healthz, /metrics and the request counters
    from .fast_path import CardLookups

    # Outermost, before even FastAPI's own error, telemetry and body-size layers (4-5 % of a look-up's CPU):
    # the hottest call skips the whole stack; whatever it does not answer goes through all of it.
    inner_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: CardLookups(inner_stack(), state=app.state)
    app.include_router(routes.router, prefix="/api/v1")
    app.include_router(card_page.router)  # the customers' /c/<link> pages, outside the device API
    from ..admin.routes import mount as mount_back_office

    mount_back_office(app)  # the shop owner's pages under /admin/
    from ..messaging.activation import attach_poller  # inbound activation through the GSM modem, when there is one

    attach_poller(app)
    return app
