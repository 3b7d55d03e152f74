"""What anyone may call: the root redirect, a bare health answer, signed media links."""

# No "from __future__ import annotations": FastAPI resolves these annotations at runtime.

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from assistant.media import LocalMediaStore
from assistant.web.routes import Web


def router(web: Web) -> APIRouter:
    routes = APIRouter()

    @routes.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(web.home, status_code=303)

    @routes.get("/healthz")
    def healthz(request: Request) -> JSONResponse:
        """`ok`/`degraded` for anyone (a load balancer); the details for the admin."""
        admin = bool(request.scope.get("state", {}).get("admin"))
        try:
            depth = web.services.inbox.depth(timeout=1.0) if admin else None
            if depth is None:
                web.services.db.ping(timeout=1.0)
        except Exception as exc:
            body: dict[str, Any] = {"status": "degraded"}
            if admin:
                body["error"] = f"database unreachable: {type(exc).__name__}"
            return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store"})
        body = {"status": "ok"}
        if admin:
            # Which channels can send (a channel's routes exist even when it cannot).
            ready = {c.name: c.missing is None for c in web.services.channels}
            body.update(
                brain=web.services.assistant.brain.name,
                media=web.services.store.name,
                twilio=ready.get("twilio", False),
                channels=ready,
                queue=depth,
                # Files waiting for the database, and files set aside (`rejected/`: the
                # database refused them, or they are not spool records): a number that
                # does not go down, or any rejected file, needs a look.
                spool=web.recorder.spool.status(),
            )
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @routes.get("/media/{token}")
    def media(token: str) -> Response:
        """Signed, expiring links to locally stored media (what Twilio fetches)."""
        key = web.services.signer.verify(token)
        if key is None or not web.services.store.exists(key):
            raise HTTPException(404, "link expired or unknown")
        headers = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}
        store = web.services.store
        if key.endswith(".zip") and "exports/" in key and isinstance(store, LocalMediaStore):
            # A data export can be hundreds of MB: streamed from disk, saved as a file.
            headers["Content-Disposition"] = 'attachment; filename="meus-dados.zip"'
            return FileResponse(store.file_path(key), media_type="application/zip", headers=headers)
        content_type = web.services.catalog.content_type_of(key) or "application/octet-stream"
        return Response(store.get(key), media_type=content_type, headers=headers)

    return routes
