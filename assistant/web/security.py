"""ASGI middlewares that stand between the internet and the app, outermost first:

1. `HostGuard`: only configured host names are served (DNS rebinding, foreign `Host`).
2. `ForwardedHeaders`: `X-Forwarded-Proto/Host/For` believed only from configured proxies
   (`FORWARDED_ALLOW_IPS`, as uvicorn's ProxyHeadersMiddleware does), and a forwarded host
   must be allowed too.
3. `BodyLimit`: request bodies over the limit get 413 before anything parses them,
   declared or chunked.
4. `AdminGate`: every route needs the admin session (or the token as a Bearer header)
   except the few that carry their own proof: Twilio's signed webhooks, signed media
   links, the login itself and a bare health answer. A route may also take a token of
   its own that opens it and nothing else (`METRICS_TOKEN` for `GET /metrics`). Wrong
   Bearer tokens count as failed logins (429 past a few); a session that cannot be
   checked because the database is away gets 503 at once, not a 500 after 30 s.

Plain ASGI rather than Starlette's BaseHTTPMiddleware: that one wraps exceptions raised
while the body is read and streams responses through a task, which turned an over-limit
body into a 500.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.web.auth import COOKIE, DatabaseUnavailable, Sessions

# Public routes that must not answer while the database is away even if they carry a
# cookie: they open or close sessions (their own handler would fail later, and slower).
SESSION_ROUTES = ("/login", "/logout")
# What a refusal for want of the database tells clients to wait (the pool reconnects
# every second; a browser or script retrying sooner only adds load).
DATABASE_RETRY_AFTER = 5


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def host_name(value: str) -> str:
    """`Host` header -> lower-case name without port; IPv6 literals without brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    if value.count(":") > 1:  # a bare IPv6 address (no port can be told apart)
        return value
    return value.split(":", 1)[0]


def host_allowed(name: str, allowed: Iterable[str]) -> bool:
    if not name:
        return False
    for pattern in allowed:
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


class HostGuard:
    """400 for a `Host` header that is not ours, before any route runs."""

    def __init__(self, app: ASGIApp, allowed: list[str]):
        self.app = app
        self.allowed = [a.lower() for a in allowed]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        name = host_name(Headers(scope=scope).get("host", ""))
        if host_allowed(name, self.allowed):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        message = f"Host {name!r} is not served here; add it to ALLOWED_HOSTS if it is yours."
        await _respond(send, 400, message.encode())


class TrustedPeers:
    """Addresses and networks of `FORWARDED_ALLOW_IPS` ("*" trusts everyone)."""

    def __init__(self, spec: str):
        items = [s.strip() for s in spec.split(",") if s.strip()]
        self.everyone = "*" in items
        self.networks = []
        for item in items:
            if item == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                # uvicorn also accepts unix socket paths and names; those peers have no IP.
                continue

    def __contains__(self, peer: str | None) -> bool:
        if self.everyone:
            return True
        if not peer:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in net for net in self.networks)


class ForwardedHeaders:
    """Apply `X-Forwarded-*` from trusted proxies; drop them from everyone else.

    Mirrors uvicorn's ProxyHeadersMiddleware for the scheme and the client (the client is
    the right-most address that is not a trusted proxy), and also takes `X-Forwarded-Host`,
    which uvicorn ignores but tunnels that rewrite `Host` send. Untrusted peers' forwarded
    headers are removed from the request, so nothing downstream can read them by mistake.
    """

    HEADERS = (b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-for")

    def __init__(self, app: ASGIApp, trusted: str, allowed_hosts: list[str]):
        self.app = app
        self.trusted = TrustedPeers(trusted)
        self.allowed = [a.lower() for a in allowed_hosts]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = client[0] if client else None
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        forwarded = {k: v.decode("latin-1") for k, v in headers if k in self.HEADERS}
        if not forwarded:
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        if peer not in self.trusted:
            scope["headers"] = [(k, v) for k, v in headers if k not in self.HEADERS]
            await self.app(scope, receive, send)
            return
        proto = forwarded.get(b"x-forwarded-proto", "").split(",")[-1].strip().lower()
        if proto in ("http", "https", "ws", "wss"):
            if scope["type"] == "websocket":
                proto = {"http": "ws", "https": "wss"}.get(proto, proto)
            elif proto in ("ws", "wss"):
                proto = {"ws": "http", "wss": "https"}[proto]
            scope["scheme"] = proto
        host = forwarded.get(b"x-forwarded-host", "").split(",")[0].strip()
        if host:
            if not host_allowed(host_name(host), self.allowed):
                message = f"Forwarded host {host_name(host)!r} is not served here (ALLOWED_HOSTS)."
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await _respond(send, 400, message.encode())
                return
            scope["headers"] = [(k, v) for k, v in headers if k != b"host"] + [
                (b"host", host.encode("latin-1"))
            ]
        chain = [a.strip() for a in forwarded.get(b"x-forwarded-for", "").split(",") if a.strip()]
        for address in reversed(chain):
            if address not in self.trusted:
                scope["client"] = (address, 0)
                break
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for request bodies over `limit` bytes, whether declared or sent chunked.

    Bodies of the app's own routes are small (webhooks, forms): they are read here, up to
    the limit, and handed on whole. The UI under `ui_prefix` takes uploads and streams
    them to Gradio, which enforces its own `max_file_size`; here only its declared length
    is bounded.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        ui_prefix: str = "/ui",
        ui_limit: int = 0,
        paths: dict[str, int] | None = None,
    ):
        self.app = app
        self.limit = limit
        self.ui_prefix = ui_prefix
        self.ui_limit = ui_limit or limit
        # Routes whose bodies are legitimately larger (Meta's batched notifications).
        self.paths = paths or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        ui = scope["path"] == self.ui_prefix or scope["path"].startswith(self.ui_prefix + "/")
        limit = self.ui_limit if ui else self.paths.get(scope["path"], self.limit)
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        if ui:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect as usual

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        await _respond(
            send,
            413,
            f"request body over {limit} bytes".encode(),
            headers=[(b"connection", b"close")],
        )


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
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if method == "GET" and "text/html" in headers.get("accept", ""):
            target = scope.get("root_path", "") + scope["path"]
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            location = "/login?next=" + quote(target, safe="")
            await _respond(send, 303, b"", headers=[(b"location", location.encode())])
            return
        body = json.dumps({"detail": "admin login required"}).encode()
        await _respond(
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
    await _respond(
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
