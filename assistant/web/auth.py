"""Admin access to every human-facing page: one token, one-time links, server-side sessions.

The token is `ADMIN_TOKEN`, or one generated once and kept in `DATA_DIR/admin_token`
(mode 0600) so a restart keeps it. It is typed into the login form (a POST) or sent as
`Authorization: Bearer` by scripts; it never appears in a URL, where it would stay in the
browser's history and the server's access log for as long as it is valid, i.e. forever.
What `make run` prints (and `assistant login-link` makes) instead is a one-time link
`/login?code=...`: a random code, stored hashed in `admin_login_codes`, valid for
LOGIN_CODE_MINUTES and spent by its first use.

A login opens a session: a random id, stored hashed in `admin_sessions` with its expiry,
and sent to the browser signed by itsdangerous with a key derived from the token. So a
forged or mangled cookie is refused before the database is asked, a changed `ADMIN_TOKEN`
makes every old cookie unreadable, and logout or expiry end a session on the server, not
only in the browser. Wrong tokens and codes are counted per client address
(`LoginThrottle`): past a few, that address waits.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from itsdangerous import BadData, URLSafeTimedSerializer

from assistant.config import Settings
from assistant.db import Conn, Database

log = logging.getLogger(__name__)

COOKIE = "admin_session"
TOKEN_FILE = "admin_token"
# How long a one-time login link works (it is printed at start and may be opened a little
# later; spent at first use in any case).
LOGIN_CODE_MINUTES = 10
# How long a request waits for a database connection to check or open a session. The
# pool's default is 30 s: during an outage every admin page hung that long and then
# failed with 500. A session lookup is one indexed read, so a second is plenty.
SESSION_DB_WAIT = 1.0
# Failed logins (wrong token in the form or as Bearer, unknown login code) allowed per
# client address within LOGIN_WINDOW_SECONDS; past them the address gets 429.
LOGIN_FAILURES = 5
LOGIN_WINDOW_SECONDS = 15 * 60


class DatabaseUnavailable(Exception):
    """The session store did not answer in time (the database is away or saturated)."""


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


def _hash(secret: str) -> str:
    # A plain hash is enough: session ids and login codes are 256-bit random values.
    return hashlib.sha256(secret.encode()).hexdigest()


def local_url(settings: Settings) -> str:
    """The app's address on this machine (what the person who started it opens)."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def issue_login_code(db: Database, minutes: float = LOGIN_CODE_MINUTES) -> str:
    """A new one-time login code (only its hash is stored: a dump opens nothing)."""
    code = secrets.token_urlsafe(32)
    db.execute(
        "INSERT INTO admin_login_codes (code_hash, expires_at)"
        " VALUES (%s, now() + make_interval(secs => %s))",
        (_hash(code), float(minutes) * 60),
    )
    # Spent codes are deleted when used; expired ones are only clutter.
    db.execute("DELETE FROM admin_login_codes WHERE expires_at < now()")
    return code


def login_link(db: Database, base_url: str, minutes: float = LOGIN_CODE_MINUTES) -> str:
    """A one-time link that logs in whoever opens it first, within `minutes`."""
    return f"{base_url.rstrip('/')}/login?code={issue_login_code(db, minutes)}"


class LoginThrottle:
    """Failed logins per client address, in this process's memory.

    After `limit` failures within `window` seconds an address must wait until the oldest
    of them is `window` old (`retry_after`). At most `max_clients` addresses are
    remembered, the least recently failing forgotten first, so a flood of addresses
    cannot grow it without bound (a forgotten address merely starts counting again).
    IPv6 clients count per /64: one host commonly has a whole /64 to rotate through.
    """

    def __init__(
        self,
        limit: int = LOGIN_FAILURES,
        window: float = LOGIN_WINDOW_SECONDS,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._failures)

    @staticmethod
    def key(address: str | None) -> str:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return address or "unknown"
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.IPv6Network((ip, 64), strict=False))
        return str(ip)

    def retry_after(self, address: str | None) -> int:
        """Seconds this address must wait before its next try; 0 when it may try now."""
        now = self._clock()
        with self._lock:
            times = self._failures.get(self.key(address))
            if times is None or len(times) < self.limit:
                return 0
            wait = times[0] + self.window - now
        return max(0, math.ceil(wait))

    def failed(self, address: str | None) -> None:
        key = self.key(address)
        with self._lock:
            times = self._failures.pop(key, None) or deque(maxlen=self.limit)
            times.append(self._clock())
            self._failures[key] = times  # now the most recent
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def succeeded(self, address: str | None) -> None:
        with self._lock:
            self._failures.pop(self.key(address), None)


class Sessions:
    def __init__(
        self,
        db: Database,
        token: str,
        max_age_seconds: float = 12 * 3600,
        throttle: LoginThrottle | None = None,
    ):
        self.db = db
        self._token = token.encode()
        self.max_age = int(max_age_seconds)
        key = hmac.new(self._token, b"admin-session-key-v2", hashlib.sha256).digest()
        self._signer = URLSafeTimedSerializer(key, salt="admin-session")
        self.throttle = throttle or LoginThrottle()

    @contextmanager
    def _store(self) -> Iterator[Conn]:
        """A connection for one session statement, or DatabaseUnavailable within about
        SESSION_DB_WAIT (at once when the last wait timed out moments ago)."""
        if self.db.unreachable(within=SESSION_DB_WAIT):
            raise DatabaseUnavailable("database unreachable moments ago")
        try:
            with self.db.statement(timeout=SESSION_DB_WAIT) as conn:
                yield conn
        except psycopg.OperationalError as exc:  # PoolTimeout included
            raise DatabaseUnavailable(type(exc).__name__) from exc

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
        with self._store() as conn:
            conn.execute(
                "INSERT INTO admin_sessions (id_hash, expires_at, user_agent)"
                " VALUES (%s, now() + make_interval(secs => %s), %s)",
                (_hash(session_id), self.max_age, (user_agent or "")[:300]),
            )
            # Expired rows are only clutter; dropping them here keeps the table small.
            conn.execute("DELETE FROM admin_sessions WHERE expires_at < now() - interval '1 day'")
        return self._signer.dumps(session_id)

    def redeem(self, code: str | None) -> bool:
        """Spend a one-time login code: True for the first use of a live one, only."""
        if not code or len(code) > 128:
            return False
        with self._store() as conn:
            # One statement: of two requests racing with the same code, one deletes it.
            row = conn.execute(
                "DELETE FROM admin_login_codes WHERE code_hash = %s AND expires_at > now()"
                " RETURNING 1 AS spent",
                (_hash(code),),
            ).fetchone()
        return row is not None

    def _session_id(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 512:
            return None
        try:
            value = self._signer.loads(cookie, max_age=self.max_age)
        except (BadData, UnicodeError, ValueError):
            return None
        return value if isinstance(value, str) else None

    def valid(self, cookie: str | None) -> bool:
        """Whether the cookie is a live session; DatabaseUnavailable when that cannot be
        told in time (a forged cookie is refused without asking the database)."""
        session_id = self._session_id(cookie)
        if session_id is None:
            return False
        with self._store() as conn:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM admin_sessions WHERE id_hash = %s"
                " AND revoked_at IS NULL AND expires_at > now()) AS live",
                (_hash(session_id),),
            ).fetchone()
        return bool(row and row["live"])

    def revoke(self, cookie: str | None) -> bool:
        session_id = self._session_id(cookie)
        if session_id is None:
            return False
        with self._store() as conn:
            return (
                conn.execute(
                    "UPDATE admin_sessions SET revoked_at = now()"
                    " WHERE id_hash = %s AND revoked_at IS NULL",
                    (_hash(session_id),),
                ).rowcount
                == 1
            )
