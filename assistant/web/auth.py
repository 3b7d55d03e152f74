"""Admin access to every human-facing page: one token, and server-side sessions.

The token is `ADMIN_TOKEN`, or one generated once and kept in `DATA_DIR/admin_token`
(mode 0600) so a restart keeps it and a printed login link keeps working. A login (the
form, or the link `GET /login?token=...`) opens a session: a random id, stored hashed in
`admin_sessions` with its expiry, and sent to the browser signed by itsdangerous with a key
derived from the token. So a forged or mangled cookie is refused before the database is
asked, a changed `ADMIN_TOKEN` makes every old cookie unreadable, and logout or expiry end a
session on the server, not only in the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadData, URLSafeTimedSerializer

from assistant.config import Settings
from assistant.db import Database

log = logging.getLogger(__name__)

COOKIE = "admin_session"
TOKEN_FILE = "admin_token"


@dataclass(frozen=True)
class AdminToken:
    value: str
    source: str  # "ADMIN_TOKEN", or the file it was read from or written to

    @property
    def generated(self) -> bool:
        return self.source != "ADMIN_TOKEN"


def admin_token(settings: Settings) -> AdminToken:
    """`ADMIN_TOKEN`, else the token kept in DATA_DIR (created on first use, 0600)."""
    if settings.admin_token:
        return AdminToken(settings.admin_token, "ADMIN_TOKEN")
    path = settings.data_dir / TOKEN_FILE
    return AdminToken(_read_or_create(path), str(path))


def _read_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of several processes starting together exactly one writes the token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
        # A process died between creating and writing: start over.
        path.unlink(missing_ok=True)
        return _read_or_create(path)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    def __init__(self, db: Database, token: str, max_age_seconds: float = 12 * 3600):
        self.db = db
        self._token = token.encode()
        self.max_age = int(max_age_seconds)
        key = hmac.new(self._token, b"admin-session-key-v2", hashlib.sha256).digest()
        self._signer = URLSafeTimedSerializer(key, salt="admin-session")

    def token_ok(self, candidate: str | None) -> bool:
        if not candidate:
            return False
        # Constant time; non-ASCII input is compared as bytes instead of raising.
        return hmac.compare_digest(candidate.encode("utf-8", "replace"), self._token)

    def bearer_ok(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, value = authorization.partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(value.strip())

    def start(self, user_agent: str | None = None) -> str:
        """Open a session; returns the cookie value."""
        session_id = secrets.token_urlsafe(32)
        self.db.execute(
            "INSERT INTO admin_sessions (id_hash, expires_at, user_agent)"
            " VALUES (%s, now() + make_interval(secs => %s), %s)",
            (_hash(session_id), self.max_age, (user_agent or "")[:300]),
        )
        # Expired rows are only clutter; dropping them here keeps the table small.
        self.db.execute("DELETE FROM admin_sessions WHERE expires_at < now() - interval '1 day'")
        return self._signer.dumps(session_id)

    def _session_id(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 512:
            return None
        try:
            value = self._signer.loads(cookie, max_age=self.max_age)
        except (BadData, UnicodeError, ValueError):
            return None
        return value if isinstance(value, str) else None

    def valid(self, cookie: str | None) -> bool:
        session_id = self._session_id(cookie)
        if session_id is None:
            return False
        return bool(
            self.db.scalar(
                "SELECT EXISTS (SELECT 1 FROM admin_sessions WHERE id_hash = %s"
                " AND revoked_at IS NULL AND expires_at > now())",
                (_hash(session_id),),
            )
        )

    def revoke(self, cookie: str | None) -> bool:
        session_id = self._session_id(cookie)
        if session_id is None:
            return False
        return (
            self.db.execute(
                "UPDATE admin_sessions SET revoked_at = now()"
                " WHERE id_hash = %s AND revoked_at IS NULL",
                (_hash(session_id),),
            )
            == 1
        )

    def login_link(self, base_url: str) -> str:
        """The one-click link printed at start (the token leaves the address bar at once)."""
        return f"{base_url.rstrip('/')}/login?token={self._token.decode()}"
