"""Page sessions of the browser: log in, log out, the home page, and the helpers the pages share.

A page session is a server-side row; the browser holds only a random value in a
``__Host-`` cookie (Secure, HttpOnly, SameSite=Strict; not Secure, and so without the
prefix, in localhost development mode). Every form carries a CSRF token: the one stored with
the page session, or before login an HMAC of a pre-login cookie's nonce.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from outcomes.service import audit
from outcomes.service.app import client_ip, state_of
from outcomes.service.errors import Forbidden, Unauthorized
from outcomes.service.security import (
    Caller,
    caller_from_session,
    close_session,
    log_in,
    login_csrf_token,
    open_session,
    same_token,
)

router = APIRouter()


@lru_cache(maxsize=1)
def _templates():  # noqa: ANN202 - jinja2.Environment
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("outcomes.service", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    return env


def _num(value: object, digits: int = 2, signed: bool = False) -> str:
    """A number for a table cell; "—" when missing."""
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{number:+.{digits}f}" if signed else f"{number:.{digits}f}"


def _pct(value: object, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{100 * float(value):.{digits}f} %"


def render(name: str, status_code: int = 200, **context) -> HTMLResponse:  # noqa: ANN003
    return HTMLResponse(_templates().get_template(name).render(**context), status_code=status_code)


def error_page(request: Request, status: int, message: str, headers: dict | None = None) -> HTMLResponse:
    try:  # the menu when someone is signed in; an error page must render even when the database cannot
        caller = page_caller(request) if status != 500 else None
    except Exception:  # noqa: BLE001
        caller = None
    response = render("error.html", status, status=status, message=message, caller=caller)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    settings = state_of(request).settings
    response.set_cookie(name, value, max_age=max_age, path="/", secure=not settings.dev_mode, httponly=True,
                        samesite="strict")


def page_caller(request: Request) -> Caller | None:
    """The signed-in user of a page request, or None."""
    state = state_of(request)
    with state.transaction() as session:
        return caller_from_session(session, state.settings, request.cookies.get(state.settings.session_cookie),
                                   client_ip(request))


class LoginRequired(Unauthorized):
    """A page needs a signed-in user; the application answers with a redirect to the login page."""

    default_code = "login_required"


def signed_in(request: Request) -> Caller:
    """The page's user (raises :class:`LoginRequired` when nobody is signed in)."""
    caller = page_caller(request)
    if caller is None:
        raise LoginRequired("please log in")
    return caller


@contextmanager
def page_transaction(request: Request) -> Iterator[tuple[Session, Caller]]:
    """A transaction and the user of the page session, for pages (as the API's ``authorised``)."""
    state = state_of(request)
    with state.transaction() as session:
        caller = caller_from_session(session, state.settings, request.cookies.get(state.settings.session_cookie),
                                     client_ip(request))
        if caller is None:
            raise LoginRequired("please log in")
        yield session, caller


def check_csrf(caller: Caller, given: object) -> None:
    if not same_token(caller.csrf_token, given if isinstance(given, str) else None):
        raise Forbidden("the form's security token is missing or out of date; reload the page and try again",
                        code="csrf_failed")


def _login_form(request: Request, status: int = 200, error: str = "", username: str = "") -> HTMLResponse:
    state = state_of(request)
    nonce = request.cookies.get(state.settings.login_cookie) or secrets.token_urlsafe(24)
    response = render("login.html", status, csrf_token=login_csrf_token(state.secret, nonce), error=error,
                      username=username)
    _set_cookie(response, request, state.settings.login_cookie, nonce, 3600)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    if page_caller(request) is not None:
        return RedirectResponse("/patients", status_code=303)
    return _login_form(request)


@router.post("/login")
async def login_submit(request: Request) -> Response:
    state = state_of(request)
    form = await request.form(max_files=0, max_fields=5)
    nonce = request.cookies.get(state.settings.login_cookie)
    if not nonce or not same_token(login_csrf_token(state.secret, nonce), form.get("csrf_token")):
        raise Forbidden("the login form's security token is missing or out of date; reload the page and try again",
                        code="csrf_failed")
    username, password = str(form.get("username", "")), str(form.get("password", ""))

    def attempt():  # noqa: ANN202
        with state.transaction() as session:
            outcome = log_in(session, state.settings, username, password, client_ip(request), via="page")
            if isinstance(outcome, Exception):
                return outcome, None
            return outcome, open_session(session, outcome)

    outcome, cookie = await run_in_threadpool(attempt)
    if cookie is None:
        return _login_form(request, outcome.status, str(outcome), username)
    response = RedirectResponse("/patients", status_code=303)
    _set_cookie(response, request, state.settings.session_cookie, cookie, state.settings.session_lifetime_s)
    response.delete_cookie(state.settings.login_cookie, path="/", secure=not state.settings.dev_mode,
                           httponly=True, samesite="strict")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    state = state_of(request)
    form = await request.form(max_files=0, max_fields=5)
    caller = await run_in_threadpool(page_caller, request)
    if caller is not None:
        check_csrf(caller, form.get("csrf_token"))

        def close() -> None:
            with state.transaction() as session:
                close_session(session, caller.session_id)
                audit.record(session, "logout", username=caller.username, user_id=caller.user_id,
                             clinic_id=caller.clinic_id, ip=caller.ip, detail={"via": "page"})

        await run_in_threadpool(close)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(state.settings.session_cookie, path="/", secure=not state.settings.dev_mode,
                           httponly=True, samesite="strict")
    return response


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/patients" if page_caller(request) else "/login", status_code=303)
