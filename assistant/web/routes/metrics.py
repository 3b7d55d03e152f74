"""`GET /metrics` for Prometheus, and the timer of Twilio's webhooks.

The route is gated like the admin pages (`AdminGate`), and also opens to `Authorization:
Bearer <METRICS_TOKEN>` when that is set. What it shows, and how several processes are
added up, is described in `assistant/metrics.py`.
"""

# No "from __future__ import annotations": FastAPI resolves these annotations at runtime.

import time
from collections.abc import Sequence

from fastapi import APIRouter, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import metrics
from assistant.web.routes import Web


def router(web: Web) -> APIRouter:
    routes = APIRouter()
    database = metrics.DatabaseCollector(
        web.services.inbox, metrics.database_kind(web.settings), timeout=2.0
    )

    # A plain `def`: the database gauges are read in a worker thread, not the event loop.
    @routes.get("/metrics", include_in_schema=False)
    def scrape() -> Response:
        return Response(
            metrics.exposition(database),
            media_type=metrics.CONTENT_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    return routes


class WebhookTimer:
    """Counts Twilio's webhook requests by status and times their answers.

    Outermost of the app's middlewares, so every answer Twilio gets is counted: a wrong
    signature (403), an over-limit body (413), a refused host (400), a database that
    took neither the message nor the spool (503). Only the webhook paths are labelled,
    so no request can add a series.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[str] = metrics.WEBHOOK_ROUTES):
        self.app = app
        self.routes = frozenset(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.routes:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the server answers when the app raises before responding

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = scope["path"]
            metrics.WEBHOOK_ACK_SECONDS.labels(route).observe(time.perf_counter() - start)
            metrics.WEBHOOK_REQUESTS.labels(route, str(status)).inc()
