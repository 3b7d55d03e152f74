"""The web app on one port: Twilio webhook, admin endpoints, media links and the UI at /ui.

Thin by design: requests become calls into `assistant/` (inbox, memory, report). The
webhook only verifies, stores and acknowledges; workers do everything slow.
"""

import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.admin import COOKIE, AdminAuth
from assistant.config import ConfigError, Settings, exit_on_config_error, get_settings
from assistant.core import normalize_phone
from assistant.factory import Services, build_services
from assistant.report import (
    ReportQuery,
    message_log,
    render_login,
    render_messages,
    render_report,
    report_data,
)
from assistant.twilio import parse_form, public_base, public_url, signature_valid
from assistant.worker import WorkerPool

log = logging.getLogger("webhook")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class BodyLimit:
    """Refuse request bodies over `limit` bytes before anything parses them (413).

    The Gradio app under /ui takes uploads and has its own limits, so it is exempt.
    """

    def __init__(self, app: ASGIApp, limit: int, exempt: tuple[str, ...] = ("/ui",)):
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = f"request body over {self.limit} bytes".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"text/plain"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def create_app(
    services: Services | None = None,
    settings: Settings | None = None,
    *,
    workers: int | None = None,
    mount_ui: bool = True,
) -> FastAPI:
    services = services or build_services(settings or get_settings())
    settings = services.settings
    auth = AdminAuth(settings.admin_token)
    threads = settings.worker_threads if workers is None else workers

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pool = WorkerPool(services, services.sender, threads).start() if threads else None
        if not settings.twilio_validate:
            log.warning("TWILIO_VALIDATE=false: /whatsapp accepts UNSIGNED requests")
        indexer = services.start_indexer() if threads else None
        yield
        if pool:
            await run_in_threadpool(pool.stop)
        if indexer:
            await run_in_threadpool(indexer.stop)

    app = FastAPI(
        title="WhatsApp image assistant", docs_url=None, redoc_url=None, lifespan=lifespan
    )
    app.state.services = services
    app.state.admin = auth

    # --- Twilio -----------------------------------------------------------------------

    async def twilio_form(request: Request) -> dict[str, str]:
        """The form, after the signature check (403 when missing or wrong)."""
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if settings.twilio_validate:
            token = settings.twilio_auth_token
            if not token:
                raise HTTPException(503, "TWILIO_AUTH_TOKEN is not set")
            url = public_url(str(request.url), request.headers, settings.public_base_url)
            if not signature_valid(token, url, form, request.headers.get("x-twilio-signature")):
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
        base = public_base(str(request.url), request.headers, settings.public_base_url)
        sender = normalize_phone(message.sender)
        new = await run_in_threadpool(services.inbox.enqueue, sender, message, base)
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
        return RedirectResponse("/ui/" if mount_ui else "/report")

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        body: dict[str, Any] = {
            "ok": True,
            "brain": services.assistant.brain.name,
            "media": services.store.name,
            "twilio": services.sender is not None,
        }
        try:
            body["queue"] = services.inbox.depth()
        except Exception as exc:
            body.update(ok=False, error=f"database unreachable: {type(exc).__name__}")
            return JSONResponse(body, status_code=503)
        return JSONResponse(body)

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
            headers={"Cache-Control": "private, max-age=300"},
        )

    # --- admin ------------------------------------------------------------------------

    def admin_ok(request: Request) -> bool:
        return auth.request_ok(request.headers.get("authorization"), request.cookies.get(COOKIE))

    def require_admin(request: Request) -> None:
        if not admin_ok(request):
            raise HTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})

    def login_redirect(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    admin = [Depends(require_admin)]

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(next: str = "/report") -> str:
        return render_login(next)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""
    ) -> Response:
        if not auth.token_ok(token):
            return HTMLResponse(render_login(next, failed=True), status_code=401)
        # Only local paths: the login form must not become an open redirect.
        target = next if next.startswith("/") and not next.startswith("//") else "/report"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            auth.cookie_value,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https"
            or request.headers.get("x-forwarded-proto") == "https",
            max_age=12 * 3600,
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/report", response_class=HTMLResponse)
    def report(request: Request, query: Annotated[ReportQuery, Query()]) -> Response:
        if not admin_ok(request):
            return login_redirect(request)
        data = report_data(
            services.db, services.catalog, services.store, query, settings.media_url_ttl_seconds
        )
        return HTMLResponse(render_report(data))

    @app.get("/get-report-data", dependencies=admin)
    def get_report_data(query: Annotated[ReportQuery, Query()]) -> dict[str, Any]:
        return report_data(
            services.db, services.catalog, services.store, query, settings.media_url_ttl_seconds
        )

    @app.get("/agent-messages")
    def agent_messages(
        request: Request,
        user: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if not admin_ok(request):
            if wants_html:
                return login_redirect(request)
            require_admin(request)
        rows = message_log(services.db, user, limit, offset)
        if wants_html:
            return HTMLResponse(render_messages(rows, user))
        return JSONResponse({"messages": rows, "limit": limit, "offset": offset})

    @app.get("/memory-content", dependencies=admin)
    def memory_content(user: str | None = None) -> dict[str, Any]:
        if user:
            return services.memory.content(normalize_phone(user))
        return {"users": services.memory.all_content()}

    @app.get("/memory-status/{number}", dependencies=admin)
    def memory_status(number: str) -> dict[str, Any]:
        return services.memory.status(normalize_phone(number))

    @app.post("/clear-memory", dependencies=admin)
    def clear_memory() -> dict[str, Any]:
        return {"cleared": services.memory.clear_all()}

    @app.post("/clear-user-memory/{number}", dependencies=admin)
    def clear_user_memory(number: str) -> dict[str, Any]:
        user = normalize_phone(number)
        return {"user": user, "cleared": services.memory.clear(user)}

    if mount_ui:
        import gradio as gr

        from app_gradio import LOCAL_HOSTS, build_ui

        guarded = settings.host not in LOCAL_HOSTS

        @app.middleware("http")
        async def ui_login(request: Request, call_next: Any) -> Response:
            # Reachable from other machines: the UI needs the admin login (cookie or Bearer).
            if guarded and request.url.path in ("/ui", "/ui/") and not admin_ok(request):
                return login_redirect(request)
            response: Response = await call_next(request)
            return response

        app = gr.mount_gradio_app(
            app,
            build_ui(services),
            path="/ui",
            auth_dependency=(lambda r: "admin" if admin_ok(r) else None) if guarded else None,
        )
    app.add_middleware(BodyLimit, limit=settings.max_webhook_bytes)
    return app


def main() -> None:
    import uvicorn

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = get_settings()
        app = create_app(settings=settings)
    except ConfigError as exc:
        exit_on_config_error(exc)
        return
    base = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    token_note = "" if settings.admin_token else "  (token printed above in the log)"
    print(
        f"\n  Simulator and catalog: {base}/ui/"
        f"\n  Admin report:          {base}/report{token_note}"
        f"\n  Twilio webhook (POST): {base}/whatsapp"
        f"{'' if settings.public_base_url else '   (set PUBLIC_BASE_URL to your public https URL)'}"
        "\n",
        flush=True,
    )
    # Uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the handler
    # that was in place before it: make that an ordinary exit, so exit handlers run (the
    # embedded PostgreSQL is stopped by one; Python's default SIGTERM action skips them).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
