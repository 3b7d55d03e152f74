"""Admin access: one token (ADMIN_TOKEN, or generated at start), as a Bearer header or as
a login cookie that holds a MAC of the token rather than the token itself."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

log = logging.getLogger(__name__)

COOKIE = "admin_session"


class AdminAuth:
    def __init__(self, token: str | None):
        self.generated = not token
        self.token = token or secrets.token_urlsafe(24)
        if self.generated:
            # Printed once so the person who started the app can open the admin pages.
            log.warning(
                "ADMIN_TOKEN is not set; admin pages use this token until restart: %s",
                self.token,
            )

    @property
    def cookie_value(self) -> str:
        return hmac.new(self.token.encode(), b"admin-session-v1", hashlib.sha256).hexdigest()

    def token_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token).encode(), self.token.encode())

    def request_ok(self, authorization: str | None, cookie: str | None) -> bool:
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and self.token_ok(value.strip()):
                return True
        return bool(cookie) and hmac.compare_digest(str(cookie), self.cookie_value)
