"""`AdminGate`: every route needs the admin session (or the token as a Bearer header)
except the few that carry their own proof: Twilio's signed webhooks, signed media links,
the login itself and a bare health answer. A route may also take a token of its own that
opens it and nothing else (`METRICS_TOKEN` for `GET /metrics`). Wrong Bearer tokens count
as failed logins (429 past a few); a session that cannot be checked because the database
is away gets 503 at once, not a 500 after 30 s.

Also `safe_next`: where the login may send a browser back to after the gate sent it there.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.web.asgi import respond
from assistant.web.auth import COOKIE, DatabaseUnavailable, Sessions

# Public routes that must not answer while the database is away even if they carry a
# cookie: they open or close sessions (their own handler would fail later, and slower).
SESSION_ROUTES = ("/login", "/logout")
# What a refusal for want of the database tells clients to wait (the pool reconnects
# every second; a browser or script retrying sooner only adds load).
DATABASE_RETRY_AFTER = 5

PublicRule = Callable[[str, str], bool]


# Channels' webhooks: each route checks its platform's signature or verify token.
TWILIO_WEBHOOKS = frozenset({"/whatsapp", "/twilio/status"})


def public_routes(method: str, path: str, webhooks: frozenset[str] = TWILIO_WEBHOOKS) -> bool:
    """Routes anyone may call: each carries its own proof or says nothing private."""
    if method in ("GET", "POST") and path in webhooks:
        return True  # the channel's route checks the platform's proof
    if method in ("GET", "HEAD") and path.startswith("/media/"):
        return True  # signed, expiring links (what Twilio fetches)
    if method in ("GET", "HEAD") and path in ("/healthz", "/"):
        return True  # "ok"/"degraded" only; "/" redirects to the (gated) UI
    return path in ("/login", "/logout")


class AdminGate:
    """Every other route needs the admin session cookie or `Authorization: Bearer`.

    Browsers asking for a page are sent to `/login?next=...`; anything else gets 401.
    `scope["state"]["admin"]` tells routes whether the caller is the admin (`/healthz`
    gives details only then).

    `route_tokens` maps a path to a token of its own (None: none set): `Authorization:
    Bearer <it>` opens `GET`/`HEAD` of exactly that path and nothing else, and does not
    make the caller the admin. A scraper can then be given less than the admin's key.
    """

    def __init__(
        self,
        app: ASGIApp,
        sessions: Sessions,
        is_public: PublicRule = public_routes,
        route_tokens: Mapping[str, str | None] | None = None,
    ):
        self.app = app
        self.sessions = sessions
        self.is_public = is_public
        self.route_tokens = {
            path: token.encode() for path, token in (route_tokens or {}).items() if token
        }

    def _route_token_ok(self, scope: Scope, headers: Headers) -> bool:
        token = self.route_tokens.get(scope["path"])
        if token is None or scope.get("method") not in ("GET", "HEAD"):
            return False
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return False
        # Constant time; non-ASCII input is compared as bytes instead of raising.
        return hmac.compare_digest(value.strip().encode("utf-8", "replace"), token)

    def _known_token(self, headers: Headers) -> bool:
        value = headers.get("authorization", "").partition(" ")[2].strip()
        candidate = value.encode("utf-8", "replace")
        return bool(value) and any(
            hmac.compare_digest(candidate, token) for token in self.route_tokens.values()
        )

    async def _admin(self, headers: Headers) -> bool:
        if self.sessions.bearer_ok(headers.get("authorization")):
            return True
        cookie = _cookie(headers.get("cookie", ""), COOKIE)
        if cookie is None:
            return False
        return bool(await run_in_threadpool(self.sessions.valid, cookie))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method = scope.get("method", "GET")
        path = scope["path"]
        client = scope.get("client")
        address = client[0] if client else None
        bearer = headers.get("authorization", "").lower().startswith("bearer ")
        if bearer and (wait := self.sessions.throttle.retry_after(address)):
            # Not even compared: a throttled address learns nothing from its guesses.
            await _refuse(scope, send, 429, "Too many failed logins; try again later.", wait)
            return
        try:
            admin = await self._admin(headers)
        except DatabaseUnavailable:
            public = scope["type"] == "http" and self.is_public(method, path)
            if public and path not in SESSION_ROUTES:
                # /healthz then says "degraded", a webhook is spooled: as anonymous.
                scope.setdefault("state", {})["admin"] = False
                await self.app(scope, receive, send)
                return
            message = "The database is unavailable; try again in a few seconds."
            await _refuse(scope, send, 503, message, DATABASE_RETRY_AFTER)
            return
        scope.setdefault("state", {})["admin"] = admin
        route_token = not admin and scope["type"] == "http" and self._route_token_ok(scope, headers)
        if bearer and not admin and not route_token and not self._known_token(headers):
            # A wrong guess. A route's own token (METRICS_TOKEN) used elsewhere is refused
            # too, but it is a known credential, not a guess: it does not lock out others.
            self.sessions.throttle.failed(address)
        if admin or (scope["type"] == "http" and (self.is_public(method, path) or route_token)):
            await self.app(scope, receive, send)
            return
        await _login_required(scope, send, headers)


async def _login_required(scope: Scope, send: Send, headers: Headers) -> None:
    """Browsers asking for a page go to the login, and back here after it; anything else
    is told to authenticate (websockets are closed)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    if scope.get("method", "GET") == "GET" and "text/html" in headers.get("accept", ""):
        target = scope.get("root_path", "") + scope["path"]
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        location = "/login?next=" + quote(target, safe="")
        await respond(send, 303, b"", headers=[(b"location", location.encode())])
        return
    body = json.dumps({"detail": "admin login required"}).encode()
    await respond(
        send,
        401,
        body,
        "application/json",
        headers=[(b"www-authenticate", b'Bearer realm="admin"')],
    )


async def _refuse(scope: Scope, send: Send, status: int, message: str, retry_after: int) -> None:
    """A short plain answer with Retry-After (websockets: closed with "try again later")."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1013})
        return
    await respond(
        send, status, message.encode(), headers=[(b"retry-after", str(retry_after).encode())]
    )


def _cookie(header: str, name: str) -> str | None:
    """One cookie's value from a Cookie header, tolerating malformed ones."""
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


def safe_next(target: str | None, default: str = "/ui/") -> str:
    """Only paths of this site: the login must never become an open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\r\n\t\\") or any(ord(ch) < 32 for ch in target):
        return default
    return target
