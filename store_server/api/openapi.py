"""The device API's OpenAPI document (/api/v1/openapi.json), with every refusal declared once, here.

FastAPI documents what a route returns on success and its own 422 (in a `{detail: [...]}` shape we never
send). Every refusal of this server is `{error, message, ...details}` (store_server/errors.py and the
handlers in api/app.py), and any route can answer most of them: a body over the limit (413) or too slow
(408), an address or device over a rate limit (429), a domain refusal (400/403/404/409/423). Rather than a
`responses=` on each route, which a new route would forget, the generated document is completed here:
each operation gets the error codes it can meet with the one Error schema. Only /api/v1 is the device
contract; the back office's HTML pages (/admin) are left out of it.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

API_PREFIX = "/api/v1/"

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "a stable code, e.g. card_not_found (docs/api.md)"},
        "message": {"type": "string", "description": "what went wrong, in English, for logs and technicians"},
    },
    # Some refusals carry details beside the two keys: retry_after, operation_id, ...
    "additionalProperties": True,
}

# What each status means in this API; every one of them comes as the Error schema.
ERRORS = {
    "400": "refused: the request is well-formed but the shop says no (error names why)",
    "401": "no device key, or one that is unknown or revoked",
    "403": "this device (or webhook caller) may not do this",
    "404": "no such card, sale, code request or route",
    "408": "the request body did not arrive in time",
    "409": "conflicts with the current state (e.g. a card bound to another phone)",
    "413": "the request body or an operation's payload is over its limit",
    "422": "the body or a parameter does not match this schema, or is not JSON",
    "423": "locked for a while (too many wrong PINs at this till)",
    "429": "too many requests of this kind from this device or address; see Retry-After",
    "500": "the server failed; try again later",
    "503": "the server has too many open connections; try again shortly",
}


def document(app: FastAPI) -> dict:
    spec = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
    spec["paths"] = {path: item for path, item in spec.get("paths", {}).items() if path.startswith(API_PREFIX)}
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    # FastAPI's validation-error schemas describe a shape this server never sends.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for item in spec["paths"].values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses[status] = {"description": description, **error}
    return spec


def install(app: FastAPI) -> None:
    """Serve `document(app)` as the app's OpenAPI, built once on the first request for it."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
