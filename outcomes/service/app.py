"""The clinic server's ASGI application: :func:`create_app` wires settings, database, queue,
security middleware, error translation, the JSON API and the pages.

Routers are thin: they parse the request, call :mod:`outcomes.service.records` inside a
transaction, and answer; every refusal is a :class:`~outcomes.errors.OutcomesError` whose
code this module maps to an HTTP status and a one-line ``{"error", "code"}`` body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from outcomes.errors import OutcomesError
from outcomes.service.errors import PayloadTooLarge, status_of
from outcomes.service.settings import ServiceSettings

log = logging.getLogger("outcomes.service")
HERE = Path(__file__).parent
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@dataclass
class ServiceState:
    """What every route needs, made once per application."""

    settings: ServiceSettings
    sessions: sessionmaker
    enqueue: Callable[[int], None]
    secret: bytes
    # (photo bytes, baseline's stored name or None) → the framing check's answer; None: no workers to ask
    check_framing: Callable[[bytes, str | None], dict] | None = None
    # (stored name, sha256) of a new baseline → its analysis made ahead by a worker; None: not done
    prepare_baseline: Callable[[str, str], None] | None = None

    def queue(self, assessment_ids) -> None:  # noqa: ANN001 - iterable of int
        """Put committed assessments on the queue. A queue that cannot be reached is logged, not raised: the
        rows are in the database, and the server's sweep queues rows left waiting."""
        for assessment_id in assessment_ids:
            try:
                self.enqueue(assessment_id)
            except Exception:  # noqa: BLE001
                log.exception("assessment %s: could not be queued now; the sweep will queue it", assessment_id)

    @contextmanager
    def transaction(self) -> Session:
        with self.sessions.begin() as session:
            yield session


# Photos and result pictures: never cached, never sniffed into another type.
IMAGE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def state_of(request) -> ServiceState:  # noqa: ANN001 - starlette Request
    """The application's :class:`ServiceState`, for routes."""
    return request.app.state.outcomes


def client_ip(request) -> str:  # noqa: ANN001 - starlette Request
    return request.client.host if request.client else ""


def error_body(message: str, code: str) -> bytes:
    return json.dumps({"error": message, "code": code}).encode()


class SecurityHeaders:
    """Adds the CSP, nosniff, framing and referrer rules (and HSTS outside development) to every answer."""

    def __init__(self, app, dev_mode: bool):  # noqa: ANN001
        self.app = app
        self.headers = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                        (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
                        (b"cross-origin-opener-policy", b"same-origin"),
                        (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()")]
        if not dev_mode:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in present]
                if b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413: from its Content-Length before reading
    any of it, or, for a body of unstated length, as soon as it has read past the limit."""

    def __init__(self, app, limit: int):  # noqa: ANN001
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers", [])).get(b"content-length")
        too_large = PayloadTooLarge(f"the request body is over the upload limit of {self.limit} bytes "
                                    f"({self.limit // (1024 * 1024)} MiB)", code="upload_too_large")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _answer(send, 413, error_body(str(too_large), too_large.code))
        received, started = 0, False

        async def counting_receive():  # noqa: ANN202
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message) -> None:  # noqa: ANN001
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _answer(send, 413, error_body(str(too_large), too_large.code))


async def _answer(send, status: int, body: bytes) -> None:  # noqa: ANN001
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: ServiceSettings, *, enqueue: Callable[[int], None] | None = None,
               check_framing: Callable[[bytes, str | None], dict] | None = None,
               migrate: bool = True):  # noqa: ANN201 - fastapi.FastAPI
    """The application for ``settings``.

    Parameters
    ----------
    enqueue : callable, optional
        Puts an assessment id on the queue; default: the huey queue in the data folder.
    check_framing : callable, optional
        Runs the upload page's framing check; default: the same queue's check task
        (answered by the workers, at most 10 s awaited) when ``enqueue`` is not given.
    migrate : bool
        Bring the database schema up to date first.
    """
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, RedirectResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException

    from outcomes.service import api, pages, pages_admin, pages_clinic
    from outcomes.service.db import make_engine, make_sessionmaker
    from outcomes.service.migrate import upgrade_database

    settings.prepare()
    engine = make_engine(settings.database)
    if migrate:
        upgrade_database(engine)
    prepare_baseline = None
    if enqueue is None:
        from outcomes.service.jobs import make_queue

        queue = make_queue(settings)
        enqueue, prepare_baseline = queue.assess, queue.prepare
        if check_framing is None:
            def check_framing(data: bytes, baseline: str | None) -> dict:
                return queue.check(data, baseline).get(blocking=True, timeout=10)
    state = ServiceState(settings, make_sessionmaker(engine, settings.audit_key()), enqueue, settings.secret(),
                         check_framing, prepare_baseline)
    app = FastAPI(title="outcomes clinic server", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.outcomes = state

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def answer(request: Request, status: int, message: str, code: str, headers: dict | None = None):  # noqa: ANN202
        if wants_json(request):
            return JSONResponse({"error": message, "code": code}, status_code=status, headers=headers)
        return pages.error_page(request, status, message, headers)

    @app.exception_handler(OutcomesError)
    async def _project_error(request: Request, exc: OutcomesError):  # noqa: ANN202
        if exc.code == "login_required" and not wants_json(request):
            return RedirectResponse("/login", status_code=303)
        status = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 and wants_json(request) else None
        return answer(request, status, str(exc), exc.code, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):  # noqa: ANN202
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}"
                             for e in exc.errors()[:5])
        return answer(request, 422, f"the request is not valid: {problems}", "invalid_request")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):  # noqa: ANN202
        codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
        message = "no such page or route" if exc.status_code == 404 else str(exc.detail)
        return answer(request, exc.status_code, message, codes.get(exc.status_code, "http_error"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):  # noqa: ANN202
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        response = answer(request, 500, "internal error; the server's log has the details", "internal_error")
        # this answer comes from the outermost error handler, outside SecurityHeaders
        for name, value in SecurityHeaders(None, settings.dev_mode).headers + [(b"cache-control", b"no-store")]:
            response.headers[name.decode()] = value.decode()
        return response

    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(pages_clinic.router)
    app.include_router(pages_admin.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)
    app.add_middleware(SecurityHeaders, dev_mode=settings.dev_mode)
    return app
