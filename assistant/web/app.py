"""The web app on one port: Twilio webhook, admin pages, media links and the UI at /ui.

Thin by design: requests become calls into `assistant/` (inbox, memory, report). The
webhook only verifies, stores and acknowledges; workers do everything slow. Who may call
what is decided in one place, `assistant/web/security.py`, before any route runs.
"""

# No "from __future__ import annotations" here: FastAPI must resolve the routes'
# annotations at runtime, and some of them name dependencies local to create_app.

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware

from assistant.config import Settings, get_settings
from assistant.core import normalize_phone
from assistant.factory import Services, build_services
from assistant.models import InboundMessage
from assistant.retry import DATABASE_AWAY
from assistant.spool import Replayer, Spool
from assistant.twilio import parse_form, public_base, public_url, signature_valid
from assistant.web.auth import COOKIE, Sessions, admin_token
from assistant.web.report import (
    ReportQuery,
    message_log,
    render_login,
    render_messages,
    render_report,
    report_data,
)
from assistant.web.security import (
    AdminGate,
    BodyLimit,
    ForwardedHeaders,
    HostGuard,
    safe_next,
)
from assistant.worker import WorkerPool

log = logging.getLogger("webhook")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
# What a login answer must not leave behind: the token in a cache, or in a Referer.
NO_TRACE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def create_app(
    services: Services | None = None,
    settings: Settings | None = None,
    *,
    workers: int | None = None,
    mount_ui: bool = True,
) -> FastAPI:
    services = services or build_services(settings or get_settings())
    settings = services.settings
    token = admin_token(settings)
    sessions = Sessions(services.db, token.value, settings.admin_session_hours * 3600)
    threads = settings.worker_threads if workers is None else workers
    spool = Spool(settings.spool_dir)

    def enqueue(
        sender: str, message: InboundMessage, base: str | None, received_at: float | None = None
    ) -> bool:
        return services.inbox.enqueue(sender, message, base, received_at)

    def record(sender: str, message: InboundMessage, base: str | None) -> bool:
        """Durably record one webhook before it is acknowledged: in the inbox, or, when
        the database does not answer in time, in the local spool (replayed later)."""
        if spool.pending():  # keep arrival order behind what is already spooled
            spool.append(sender, message, base)
            return True
        try:
            return services.inbox.enqueue(
                sender, message, base, timeout=settings.webhook_db_wait_seconds
            )
        except DATABASE_AWAY as exc:
            log.warning("database away (%s): webhook spooled to disk", type(exc).__name__)
            spool.append(sender, message, base)
            return True

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        replayer = Replayer(spool, enqueue).start()
        pool = WorkerPool(services, services.sender, threads).start() if threads else None
        if not settings.twilio_validate:
            log.warning("TWILIO_VALIDATE=false: /whatsapp accepts UNSIGNED requests")
        indexer = services.start_indexer() if threads else None
        yield
        if pool:
            await run_in_threadpool(pool.stop)
        if indexer:
            await run_in_threadpool(indexer.stop)
        await run_in_threadpool(replayer.stop)

    app = FastAPI(
        title="WhatsApp image assistant",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.sessions = sessions

    # --- Twilio -----------------------------------------------------------------------

    async def twilio_form(request: Request) -> dict[str, str]:
        """The form, after the signature check (403 when missing or wrong)."""
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if settings.twilio_validate:
            auth_token = settings.twilio_auth_token
            if not auth_token:
                raise HTTPException(503, "TWILIO_AUTH_TOKEN is not set")
            # request.url is what the peer asked for, with the scheme and host of a
            # trusted proxy applied (ForwardedHeaders); PUBLIC_BASE_URL overrides both.
            url = public_url(str(request.url), settings.public_base_url)
            if not signature_valid(
                auth_token, url, form, request.headers.get("x-twilio-signature")
            ):
                log.warning("bad Twilio signature for %s", url)
                raise HTTPException(403, "invalid signature")
        return form

    @app.post("/whatsapp")
    async def whatsapp(
        request: Request, form: Annotated[dict[str, str], Depends(twilio_form)]
    ) -> Response:
        try:
            message = parse_form(form)
        except ValueError:
            raise HTTPException(400, "not a WhatsApp message (From/MessageSid missing)") from None
        if not message.message_id:
            raise HTTPException(400, "MessageSid missing")
        base = public_base(str(request.url), settings.public_base_url)
        sender = normalize_phone(message.sender)
        try:
            new = await run_in_threadpool(record, sender, message, base)
        except OSError:
            # Neither the database nor the disk took it: refuse, so Twilio retries it
            # (with the connection overrides the README describes).
            log.exception("webhook %s could not be recorded", message.message_id)
            raise HTTPException(503, "temporarily unable to record the message") from None
        if not new:
            log.info("duplicate webhook for %s ignored", message.message_id)
        return Response(EMPTY_TWIML, media_type="text/xml")

    @app.post("/twilio/status", include_in_schema=False)
    async def twilio_status(form: Annotated[dict[str, str], Depends(twilio_form)]) -> Response:
        sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
        if sid and status:
            await run_in_threadpool(services.outbox.update_status, sid, status)
        return Response(status_code=204)

    # --- public -----------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/" if mount_ui else "/report", status_code=303)

    @app.get("/healthz")
    def healthz(request: Request) -> JSONResponse:
        """`ok`/`degraded` for anyone (a load balancer); the details for the admin."""
        admin = bool(request.scope.get("state", {}).get("admin"))
        try:
            depth = services.inbox.depth(timeout=1.0) if admin else None
            if depth is None:
                services.db.ping(timeout=1.0)
        except Exception as exc:
            body: dict[str, Any] = {"status": "degraded"}
            if admin:
                body["error"] = f"database unreachable: {type(exc).__name__}"
            return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store"})
        body = {"status": "ok"}
        if admin:
            body.update(
                brain=services.assistant.brain.name,
                media=services.store.name,
                twilio=services.sender is not None,
                queue=depth,
            )
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.get("/media/{token}")
    def media(token: str) -> Response:
        """Signed, expiring links to locally stored media (what Twilio fetches)."""
        key = services.signer.verify(token)
        if key is None or not services.store.exists(key):
            raise HTTPException(404, "link expired or unknown")
        content_type = services.catalog.content_type_of(key) or "application/octet-stream"
        return Response(
            services.store.get(key),
            media_type=content_type,
            headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    # --- login ------------------------------------------------------------------------

    def logged_in(request: Request, target: str) -> Response:
        cookie = sessions.start(request.headers.get("user-agent"))
        response = RedirectResponse(target, status_code=303, headers=NO_TRACE)
        response.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=int(settings.admin_session_hours * 3600),
            path="/",
        )
        return response

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/ui/", token: str | None = None) -> Response:
        target = safe_next(next, "/ui/" if mount_ui else "/report")
        if token is not None:
            # The printed link: log in and move on at once, so the token leaves the
            # address bar (and never reaches a Referer or the history's final URL).
            if sessions.token_ok(token):
                return logged_in(request, target)
            return HTMLResponse(render_login(target, failed=True), 401, headers=NO_TRACE)
        if request.scope.get("state", {}).get("admin"):
            return RedirectResponse(target, status_code=303)
        return HTMLResponse(render_login(target), headers=NO_TRACE)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""
    ) -> Response:
        target = safe_next(next, "/ui/" if mount_ui else "/report")
        if not sessions.token_ok(token):
            return HTMLResponse(render_login(target, failed=True), 401, headers=NO_TRACE)
        return logged_in(request, target)

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        sessions.revoke(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303, headers=NO_TRACE)
        response.delete_cookie(COOKIE, path="/")
        return response

    # --- admin (AdminGate lets only the admin reach these) ------------------------------

    @app.get("/report", response_class=HTMLResponse)
    def report(query: Annotated[ReportQuery, Query()]) -> Response:
        data = report_data(
            services.db, services.catalog, services.store, query, settings.media_url_ttl_seconds
        )
        return HTMLResponse(render_report(data))

    @app.get("/get-report-data")
    def get_report_data(query: Annotated[ReportQuery, Query()]) -> dict[str, Any]:
        return report_data(
            services.db, services.catalog, services.store, query, settings.media_url_ttl_seconds
        )

    @app.get("/agent-messages")
    def agent_messages(
        request: Request,
        user: Annotated[str | None, Query(max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> Response:
        rows = message_log(services.db, user, limit, offset)
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(render_messages(rows, user))
        return JSONResponse({"messages": rows, "limit": limit, "offset": offset})

    @app.get("/memory-content")
    def memory_content(user: Annotated[str | None, Query(max_length=40)] = None) -> dict[str, Any]:
        if user:
            return services.memory.content(normalize_phone(user))
        return {"users": services.memory.all_content()}

    @app.get("/memory-status/{number}")
    def memory_status(number: str) -> dict[str, Any]:
        return services.memory.status(normalize_phone(number))

    @app.post("/clear-memory")
    def clear_memory() -> dict[str, Any]:
        return {"cleared": services.memory.clear_all()}

    @app.post("/clear-user-memory/{number}")
    def clear_user_memory(number: str) -> dict[str, Any]:
        user = normalize_phone(number)
        return {"user": user, "cleared": services.memory.clear(user)}

    if mount_ui:
        import gradio as gr

        from assistant.web.ui import build_ui

        # Gradio adds its own CORS headers unless the parent app configures CORS: an
        # empty policy means no route, the UI's included, answers other origins.
        app.add_middleware(CORSMiddleware, allow_origins=[])
        app = gr.mount_gradio_app(
            app,
            build_ui(services),
            path="/ui",
            max_file_size=settings.max_upload_bytes,
            footer_links=[],
        )
    hosts = settings.allowed_host_names
    # Added innermost first: requests pass HostGuard, ForwardedHeaders, BodyLimit, AdminGate.
    app.add_middleware(AdminGate, sessions=sessions)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_webhook_bytes,
        ui_limit=settings.max_upload_bytes + 1024 * 1024,
    )
    app.add_middleware(ForwardedHeaders, trusted=settings.forwarded_allow_ips, allowed_hosts=hosts)
    app.add_middleware(HostGuard, allowed=hosts)
    return app
