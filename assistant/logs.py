"""Logging for every process (the web app, `assistant worker`, commands): one format, and
no secrets or phone numbers through third-party loggers.

uvicorn's access log (on by default there, off in `make run`) writes every request's URL:
the values of `code=` and `token=` in query strings are replaced by `***` in it
(`redact_login_secrets`), so no login secret reaches a log file.
"""

from __future__ import annotations

import logging
import re

_LOGIN_SECRET = re.compile(r"([?&](?:code|token)=)[^&#\s]*", re.IGNORECASE)


class _RedactLoginSecrets(logging.Filter):
    """Blank the login secrets in URLs that a log record carries as arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _LOGIN_SECRET.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def redact_login_secrets() -> None:
    """Install the filter on uvicorn's access logger (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactLoginSecrets) for f in access.filters):
        access.addFilter(_RedactLoginSecrets())


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The Twilio SDK logs every request's headers at INFO: numbers and bodies in the log.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    redact_login_secrets()
