"""Serving the web app: `make run` / `assistant run`, and `webhook:app` for uvicorn.

`app` is importable without side effects: the application (database, embedder, Gradio)
is built in each server process on its first call, which is uvicorn's lifespan startup.
So production servers can run several processes:

    uvicorn webhook:app --workers 2 --no-proxy-headers
    uvicorn --factory webhook:create_app --workers 2 --no-proxy-headers

(`--no-proxy-headers`: the app applies X-Forwarded-* itself, from FORWARDED_ALLOW_IPS.)
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.config import Settings, get_settings
from assistant.web.app import create_app
from assistant.web.auth import admin_token

log = logging.getLogger("webhook")


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The Twilio SDK logs every request's headers at INFO: numbers and bodies in the log.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class LazyApp:
    """An ASGI app built on first use, once per process."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None
        self._lock = threading.Lock()

    def _build(self) -> ASGIApp:
        with self._lock:
            if self._app is None:
                configure_logging()
                self._app = create_app()
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self._app or self._build())(scope, receive, send)


app = LazyApp()


def print_welcome(settings: Settings) -> None:
    local_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    if ":" in local_host:
        local_host = f"[{local_host}]"
    local = f"http://{local_host}:{settings.port}"
    token = admin_token(settings)
    if token.generated:
        # Like Jupyter: one click logs the person who started the app in. The token is
        # kept (0600) in DATA_DIR, so this link keeps working after a restart.
        login = f"{local}/login?token={token.value}"
        where = f"(token kept in {token.source})"
    else:
        login = f"{local}/login"
        where = "(log in with ADMIN_TOKEN)"
    public = settings.public_base_url
    print(
        f"\n  Open the app (logs you in): {login}"
        f"\n                              {where}"
        f"\n  Admin report:               {local}/report"
        f"\n  Twilio webhook (POST):      {(public or local).rstrip('/')}/whatsapp"
        f"{'' if public else '   (set PUBLIC_BASE_URL to your public https URL)'}"
        "\n",
        flush=True,
    )
    if settings.host in ("0.0.0.0", "::") and not settings.allowed_hosts:
        log.warning(
            "HOST=%s listens on every interface, but only loopback names%s are served:"
            " list the names people use to reach it in ALLOWED_HOSTS",
            settings.host,
            " and PUBLIC_BASE_URL's host" if public else "",
        )


def serve(settings: Settings | None = None) -> None:
    """The web app in this process, with its worker threads (what `make run` starts)."""
    import uvicorn

    configure_logging()
    settings = settings or get_settings()
    application = create_app(settings=settings)
    print_welcome(settings)
    # Uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the handler
    # that was in place before it: make that an ordinary exit, so exit handlers run (the
    # embedded PostgreSQL is stopped by one; Python's default SIGTERM action skips them).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    # Forwarded headers are applied by the app itself (ForwardedHeaders, with the same
    # FORWARDED_ALLOW_IPS), including X-Forwarded-Host, which uvicorn's own would ignore.
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level="info",
        # One log line per webhook costs the event loop more than answering it does;
        # errors and our own warnings are still logged.
        access_log=False,
        proxy_headers=False,
        # An open browser tab keeps Gradio's event stream open: without a bound, SIGTERM
        # waited for the tab to close (seen in the browser tests). Requests in flight get
        # 10 s; queued WhatsApp work is in the database and is not lost.
        timeout_graceful_shutdown=10,
    )
