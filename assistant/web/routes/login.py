"""The admin login: the printed one-click link, the form, logout."""

# No "from __future__ import annotations": FastAPI resolves these annotations at runtime.

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from assistant.web.auth import COOKIE
from assistant.web.report import render_login
from assistant.web.routes import Web
from assistant.web.security import safe_next

# What a login answer must not leave behind: the token in a cache, or in a Referer.
NO_TRACE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def router(web: Web) -> APIRouter:
    routes = APIRouter()

    def logged_in(request: Request, target: str) -> Response:
        cookie = web.sessions.start(request.headers.get("user-agent"))
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
    def login_page(request: Request, next: str = "", token: str | None = None) -> Response:
        target = safe_next(next, web.home)
        if token is not None:
            # The printed link: log in and move on at once, so the token leaves the
            # address bar (and never reaches a Referer or the history's final URL).
            if web.sessions.token_ok(token):
                return logged_in(request, target)
            return HTMLResponse(render_login(target, failed=True), 401, headers=NO_TRACE)
        if request.scope.get("state", {}).get("admin"):
            return RedirectResponse(target, status_code=303)
        return HTMLResponse(render_login(target), headers=NO_TRACE)

    @routes.post("/login", include_in_schema=False)
    def login(
        request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""
    ) -> Response:
        target = safe_next(next, web.home)
        if not web.sessions.token_ok(token):
            return HTMLResponse(render_login(target, failed=True), 401, headers=NO_TRACE)
        return logged_in(request, target)

    @routes.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        web.sessions.revoke(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303, headers=NO_TRACE)
        response.delete_cookie(COOKIE, path="/")
        return response

    return routes
