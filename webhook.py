"""The web app on one port: Twilio webhook, admin endpoints, media links and the UI at /ui."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Response
from fastapi.responses import RedirectResponse

from assistant.config import ConfigError, Settings, exit_on_config_error, get_settings
from assistant.factory import Services, build_services

log = logging.getLogger("webhook")


def create_app(services: Services | None = None, settings: Settings | None = None) -> FastAPI:
    services = services or build_services(settings or get_settings())
    app = FastAPI(title="WhatsApp image assistant", docs_url=None, redoc_url=None)
    app.state.services = services

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        try:
            services.db.scalar("SELECT 1")
        except Exception as exc:
            raise HTTPException(503, f"database unreachable: {type(exc).__name__}") from None
        return {"ok": True, "brain": services.assistant.brain.name, "media": services.store.name}

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

    import gradio as gr

    from app_gradio import build_ui

    return gr.mount_gradio_app(app, build_ui(services), path="/ui")


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
    print(
        f"\n  Simulator and catalog: {base}/ui/\n  Twilio webhook (POST):  {base}/whatsapp\n",
        flush=True,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
