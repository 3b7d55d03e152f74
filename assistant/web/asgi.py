"""Plain ASGI answers for the middlewares that refuse a request before any route runs
(`hosts`, `body_limit`, `admin_gate`).

Plain ASGI rather than Starlette's BaseHTTPMiddleware: that one wraps exceptions raised
while the body is read and streams responses through a task, which turned an over-limit
body into a 500.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Send


async def respond(
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
