"""The admin login: the one-time link, the form, logout."""

# No "from __future__ import annotations": FastAPI resolves these annotations at runtime.

from html import escape
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from assistant.web.admin_gate import DATABASE_RETRY_AFTER, safe_next
from assistant.web.auth import COOKIE, LOGIN_CODE_MINUTES, DatabaseUnavailable
from assistant.web.report import render_login
from assistant.web.routes import Web

# What a login answer must not leave behind: a secret in a cache, or in a Referer.
NO_TRACE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _page(status: int, text: str, target: str) -> HTMLResponse:
    form = "/login?next=" + quote(target, safe="")
    body = (
        "<!doctype html><meta charset=utf-8><title>Admin login</title>"
        f"<p>{escape(text)}</p><p><a href='{escape(form)}'>Log in with the token</a></p>"
    )
    return HTMLResponse(body, status, headers=NO_TRACE)


def _unavailable() -> Response:
    return PlainTextResponse(
        "The database is unavailable; try again in a few seconds.",
        503,
        headers={**NO_TRACE, "Retry-After": str(DATABASE_RETRY_AFTER)},
    )


def _throttled(wait: int) -> Response:
    minutes = max(1, -(-wait // 60))
    return PlainTextResponse(
        f"Too many failed logins from your address; try again in {minutes} min.",
        429,
        headers={**NO_TRACE, "Retry-After": str(wait)},
    )


def router(web: Web) -> APIRouter:
    routes = APIRouter()
    throttle = web.sessions.throttle

    def address(request: Request) -> str | None:
        # The peer, or the client a trusted proxy named (ForwardedHeaders ran first).
        return request.client.host if request.client else None

    def logged_in(request: Request, target: str) -> Response:
        try:
            cookie = web.sessions.start(request.headers.get("user-agent"))
        except DatabaseUnavailable:
            return _unavailable()
        throttle.succeeded(address(request))
        response = RedirectResponse(target, status_code=303, headers=NO_TRACE)
        response.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=int(web.settings.admin_session_hours * 3600),
            path="/",
        )
        return response

    @routes.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(
        request: Request, next: str = "", code: str | None = None, token: str | None = None
    ) -> Response:
        target = safe_next(next, web.home)
        if code is not None:
            # The one-time link: spent here, then the redirect takes it out of the
            # address bar. A valid code works even for a throttled address (it cannot
            # have been guessed), so a flood of wrong tries cannot lock its owner out.
            try:
                if web.sessions.redeem(code):
                    return logged_in(request, target)
            except DatabaseUnavailable:
                return _unavailable()
            if wait := throttle.retry_after(address(request)):
                return _throttled(wait)
            throttle.failed(address(request))
            return _page(
                401,
                f"This login link has expired or was already used (links work once, for"
                f" {LOGIN_CODE_MINUTES} minutes). Get a new one with: assistant login-link,"
                " or log in with the token.",
                target,
            )
        if token is not None:
            # The old link with the long-lived token: never accepted (nor even compared),
            # because such a URL lands in the browser's history and in access logs.
            return _page(
                400,
                "Links carrying the admin token no longer log in: type the token into the"
                " form, or get a one-time link with: assistant login-link.",
                target,
            )
        if request.scope.get("state", {}).get("admin"):
            return RedirectResponse(target, status_code=303)
        return HTMLResponse(render_login(target), headers=NO_TRACE)

    @routes.post("/login", include_in_schema=False)
    def login(
        request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""
    ) -> Response:
        target = safe_next(next, web.home)
        if wait := throttle.retry_after(address(request)):
            # Checked before the token: a throttled address learns nothing from its guesses.
            return _throttled(wait)
        if not web.sessions.token_ok(token):
            throttle.failed(address(request))
            return HTMLResponse(render_login(target, failed=True), 401, headers=NO_TRACE)
        return logged_in(request, target)

    @routes.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        try:
            web.sessions.revoke(request.cookies.get(COOKIE))
        except DatabaseUnavailable:
            # Keep the cookie: the session is still open on the server, so say so and
            # let the user try again rather than pretend it ended.
            return _unavailable()
        response = RedirectResponse("/login", status_code=303, headers=NO_TRACE)
        response.delete_cookie(COOKIE, path="/")
        return response

    return routes
