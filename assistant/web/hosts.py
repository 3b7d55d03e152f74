"""Which site a request is for and who sent it, settled before anything else runs.

1. `HostGuard`: only configured host names are served (DNS rebinding, foreign `Host`).
2. `ForwardedHeaders`: `X-Forwarded-Proto/Host/For` believed only from configured proxies
   (`FORWARDED_ALLOW_IPS`, as uvicorn's ProxyHeadersMiddleware does), and a forwarded host
   must be allowed too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.web.asgi import respond


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
        await respond(send, 400, message.encode())


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
                    await respond(send, 400, message.encode())
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
