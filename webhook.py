"""Entry point of the web app: `make run` (`python webhook.py`), and `webhook:app` or
`--factory webhook:create_app` for uvicorn and gunicorn (see `assistant/web/server.py`)."""

from assistant.config import ConfigError, exit_on_config_error
from assistant.web.app import create_app
from assistant.web.server import app, serve

__all__ = ["app", "create_app", "main"]


def main() -> None:
    try:
        serve()
    except ConfigError as exc:
        exit_on_config_error(exc)


if __name__ == "__main__":
    main()
