"""Entry point of the web app (`make run`): webhook, admin pages and the UI on one port.

The app itself is built by `assistant.web.app.create_app`; this file only starts it.
"""

from __future__ import annotations

import logging
import signal
import sys

from assistant.config import ConfigError, exit_on_config_error, get_settings
from assistant.web.app import create_app
from assistant.web.auth import admin_token

__all__ = ["create_app", "main"]

log = logging.getLogger("webhook")


def main() -> None:
    import uvicorn

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The Twilio SDK logs every request's headers at INFO: numbers and bodies in the log.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    try:
        settings = get_settings()
        app = create_app(settings=settings)
    except ConfigError as exc:
        exit_on_config_error(exc)
        return
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
    # Uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the handler
    # that was in place before it: make that an ordinary exit, so exit handlers run (the
    # embedded PostgreSQL is stopped by one; Python's default SIGTERM action skips them).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    # Forwarded headers are applied by the app itself (ForwardedHeaders, with the same
    # FORWARDED_ALLOW_IPS), including X-Forwarded-Host, which uvicorn's own would ignore.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", proxy_headers=False)


if __name__ == "__main__":
    main()
