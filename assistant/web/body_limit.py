"""`BodyLimit`: request bodies over the limit get 413 before anything parses them,
declared or chunked."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.web.asgi import respond


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
        await respond(
            send,
            413,
            f"request body over {limit} bytes".encode(),
            headers=[(b"connection", b"close")],
        )
