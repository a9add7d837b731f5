"""HTTP plumbing every service shares: error format, request limits, request metrics.

Every error is JSON of one shape, ``{"error": {"code", "message", "details"}}``, with a stable
machine-readable ``code`` and an English ``message``; a request whose ``Accept-Language`` prefers
Indonesian also gets ``localized_message`` (``shared.kernel.i18n``). Bad input is always a 4xx; a
500 means a bug and is logged as one.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.kernel.db import CONNECTION_ERRORS, database_unavailable
from shared.kernel.errors import DomainError, ErrorTable
from shared.kernel.i18n import INDONESIAN, error_message, requested
from shared.kernel.metrics import Metrics

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


class ApiError(Exception):
    """A refusal a client can act on: ``status`` 4xx, a stable ``code`` and a human message."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def _error(
    request: Request, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = error_body(code, message, details)
    if requested(request.headers.get("accept-language")) == INDONESIAN:
        body["error"]["localized_message"] = error_message(code, _STATUS_CODES.get(status, "http_error"))
        headers = {**(headers or {}), "Content-Language": INDONESIAN}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI, errors: ErrorTable | None = None) -> None:
    """JSON errors of one shape for everything a request can end in; ``errors`` gives the status
    of each domain error a use case raises."""
    table = errors or ErrorTable()

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(request, exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return _error(request, table.status(exc), exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "type": err.get("type"), "message": err.get("msg")}
            for err in exc.errors()[:50]
        ]
        return _error(request, 422, "invalid_request", "the request does not match the schema", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return _error(request, exc.status_code, code, str(exc.detail))

    async def _db_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable", extra={"error": repr(exc)})
        message = "the database is not reachable right now; retry shortly"
        return _error(request, 503, "database_unavailable", message, headers={"Retry-After": "1"})

    for exc_type in CONNECTION_ERRORS:
        app.add_exception_handler(exc_type, _db_unavailable)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):
            return await _db_unavailable(request, exc)
        log.error("unhandled error", extra={"path": request.url.path}, exc_info=exc)
        return _error(request, 500, "internal_error", "an internal error occurred")


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def _refuse(self, send: Send) -> None:
        message = f"request bodies are limited to {self.limit} bytes"
        await send_json(send, 413, error_body("body_too_large", message))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await send_json(
                send, 413, error_body("body_too_large", f"request bodies are limited to {self.limit} bytes")
            )
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        # No declared length (chunked upload): read up to the limit first, then replay the body.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await send_json(
                    send, 413, error_body("body_too_large", f"request bodies are limited to {self.limit} bytes")
                )
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """Answer with ``body`` as JSON from an ASGI middleware, before the app is reached."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def install_request_metrics(app: FastAPI, metrics: Metrics) -> None:
    @app.middleware("http")
    async def _measure(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            template = getattr(route, "path", "unmatched")
            metrics.http_requests.labels(metrics.service, request.method, template, str(status)).inc()
            metrics.http_duration.labels(metrics.service, request.method, template).observe(
                time.perf_counter() - started
            )
