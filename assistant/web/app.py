"""The web app on one port: Twilio webhook, admin pages, media links and the UI at /ui.

Thin by design: requests become calls into `assistant/` (inbox, memory, report). The
webhook only verifies, stores and acknowledges; workers do everything slow. Who may call
what is decided before any route runs, by the middlewares of `hosts.py`, `body_limit.py`
and `admin_gate.py`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware

from assistant.config import Settings, get_settings
from assistant.factory import Services, build_services
from assistant.media.local import private_dir
from assistant.runtime import Runtime
from assistant.spool import Recorder, Spool
from assistant.web.admin_gate import AdminGate, public_routes
from assistant.web.auth import Sessions, admin_token
from assistant.web.body_limit import BodyLimit
from assistant.web.hosts import ForwardedHeaders, HostGuard
from assistant.web.routes import Web, admin, login, metrics, public, users
from assistant.web.routes.metrics import WebhookTimer

log = logging.getLogger("webhook")

# The GRADIO_TEMP_DIR this module chose, told apart from one the operator set.
_gradio_temp_set: str | None = None


def private_gradio_temp(data_dir: Path) -> Path:
    """Where Gradio keeps its copies of the photos it shows and of uploads: by default
    DATA_DIR/tmp/gradio, 0700, instead of a shared /tmp/gradio that other accounts can
    read (Gradio creates it 0755 and copies files 0644). An explicitly set
    GRADIO_TEMP_DIR is respected. Gradio reads the variable when its components and
    routes are made (some modules at import), so this runs before it is imported."""
    global _gradio_temp_set
    current = os.environ.get("GRADIO_TEMP_DIR")
    if current and current != _gradio_temp_set:
        return Path(current)
    path = private_dir(data_dir / "tmp" / "gradio")
    _gradio_temp_set = os.environ["GRADIO_TEMP_DIR"] = str(path.resolve())
    return path


def create_app(
    services: Services | None = None,
    settings: Settings | None = None,
    *,
    workers: int | None = None,
    mount_ui: bool = True,
) -> FastAPI:
    """The app over `services` (built from the settings when not given). `workers`: worker
    threads in this process (default `WORKER_THREADS`; 0 for web-only processes)."""
    services = services or build_services(settings or get_settings())
    settings = services.settings
    # Earlier versions made these 0755: other local accounts could read users' photos.
    private_dir(settings.data_dir, holds_database=True)
    for folder in (settings.spool_dir, settings.prompts_dir):
        private_dir(folder)
    sessions = Sessions(
        services.db, admin_token(settings).value, settings.admin_session_hours * 3600
    )
    recorder = Recorder(services.inbox, Spool(settings.spool_dir), settings.webhook_db_wait_seconds)
    web = Web(services, sessions, recorder, mount_ui)
    threads = settings.worker_threads if workers is None else workers

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        replayer = recorder.replayer().start()
        if not settings.twilio_validate:
            log.warning("TWILIO_VALIDATE=false: /whatsapp accepts UNSIGNED requests")
        runtime = Runtime(services, threads)
        try:
            runtime.start()
            yield
        finally:
            await run_in_threadpool(runtime.stop)
            await run_in_threadpool(replayer.stop)

    app = FastAPI(
        title="WhatsApp image assistant",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    # Each channel's webhooks (assistant/channels/), then the app's own routes.
    for channel in services.channels:
        app.include_router(channel.router(web))
    for module in (public, login, admin, users, metrics):
        app.include_router(module.router(web))

    if mount_ui:
        private_gradio_temp(settings.data_dir)
        import gradio as gr

        from assistant.web.ui import build_ui
        from assistant.web.ui.layout import UI_CSS

        # Gradio adds its own CORS headers unless the parent app configures CORS: an
        # empty policy means no route, the UI's included, answers other origins.
        app.add_middleware(CORSMiddleware, allow_origins=[])
        app = gr.mount_gradio_app(
            app,
            build_ui(services),
            path="/ui",
            max_file_size=settings.max_upload_bytes,
            footer_links=[],
            css=UI_CSS,
        )
    hosts = settings.allowed_host_names
    # Added innermost first: requests pass WebhookTimer, HostGuard, ForwardedHeaders,
    # BodyLimit, AdminGate.
    app.add_middleware(
        AdminGate,
        sessions=sessions,
        route_tokens={"/metrics": settings.metrics_token},
        is_public=partial(public_routes, webhooks=services.channels.webhooks),
    )
    app.add_middleware(
        BodyLimit,
        limit=settings.max_webhook_bytes,
        ui_limit=settings.max_upload_bytes + 1024 * 1024,
        paths={"/meta/webhook": settings.meta_max_webhook_bytes},
    )
    app.add_middleware(ForwardedHeaders, trusted=settings.forwarded_allow_ips, allowed_hosts=hosts)
    app.add_middleware(HostGuard, allowed=hosts)
    app.add_middleware(WebhookTimer, routes=sorted(services.channels.webhooks))
    return app
