"""The connection pool (`Database`): dict rows, one transaction per block, a thread's
blocks joined into one transaction when asked, callbacks after commit."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from assistant.config import ConfigError, Settings
from assistant.db.embedded import start_embedded_server
from assistant.db.migrations import migrate

log = logging.getLogger(__name__)


Conn = psycopg.Connection[dict[str, Any]]


# Longest pause between two reconnection attempts while the server is away. psycopg_pool
# doubles the pause without a bound (1, 2, 4 ... 64 s): after a 69 s outage the app
# waited 48 s more for its next attempt. A refused connection costs next to nothing, so
# one attempt a second per lost connection is cheap and the app serves again within about
# a second of the server's return.
RECONNECT_MAX_DELAY = 1.0


class _CappedBackoff(AttemptWithBackoff):
    """psycopg_pool's reconnection backoff, its pause capped at RECONNECT_MAX_DELAY."""

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_MAX_DELAY)


class _Pool(ConnectionPool[Conn]):
    """ConnectionPool whose reconnection attempts use `_CappedBackoff`.

    psycopg_pool has no setting for the pause (only `reconnect_timeout`, when to give
    up), and creates its backoff in `_add_connection` when a connection is lost; the
    same object is passed on to every further attempt, so starting it here caps them all.
    """

    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        if attempt is None:
            attempt = _CappedBackoff(timeout=self.reconnect_timeout)
        super()._add_connection(attempt, growing=growing)


def redact(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def resolve_database_url(settings: Settings) -> str:
    return settings.configured_database_url() or start_embedded_server(settings.embedded_pg_dir)


class Database:
    """A pool of connections with dict rows; each `connection()` block is one transaction.

    Inside `transaction()` every `connection()` block of the same thread (or task) joins
    that one transaction, so a whole message is handled atomically: a worker that dies
    half-way leaves nothing behind, and the retry starts from a clean state.

    Pooled connections are in autocommit mode and blocks open their transaction
    explicitly; the one-statement helpers (`fetchone`, `execute`, ...) outside a
    transaction then cost one round trip instead of three (BEGIN, the statement, COMMIT):
    the webhook's insert is one of them.
    """

    def __init__(self, conninfo: str, *, pool_size: int = 10, run_migrations: bool = True):
        self.conninfo = conninfo
        self._tx: ContextVar[Conn | None] = ContextVar(f"tx_{id(self)}", default=None)
        self._after: ContextVar[list[Callable[[], object]] | None] = ContextVar(
            f"after_{id(self)}", default=None
        )
        try:
            with psycopg.connect(conninfo, connect_timeout=10) as probe:
                probe.execute("SELECT 1")
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"Database unreachable (DATABASE_URL / POSTGRES_DB_*: {redact(conninfo)}): {reason}"
            ) from None
        if run_migrations:
            migrate(conninfo)
        # When a wait for a connection last timed out with nothing connected since (see
        # `unreachable`); None while connections are being handed out.
        self._starved_at: float | None = None
        self.pool: ConnectionPool[Conn] = _Pool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            # No server-side prepared statements: after five runs psycopg would prepare a
            # query and Postgres may then switch to a generic plan, which cannot use the
            # parameters' values. For the per-owner postings that meant scanning a 50k-entry
            # user's whole range instead of the query's words (measured: 71 ms vs 0.9 ms).
            # Every statement is planned for its values instead; it also keeps the pool
            # usable behind PgBouncer's transaction pooling.
            kwargs={"row_factory": dict_row, "prepare_threshold": None, "autocommit": True},
            # Reconnection attempts continue for as long as an outage lasts (at most
            # RECONNECT_MAX_DELAY apart).
            reconnect_timeout=24 * 3600,
            # A new connection means the server is there: callers need no longer be told
            # otherwise (runs in the pool's worker, before the connection is handed out).
            configure=self._connected,
            open=True,
            name="assistant",
        )
        self.has_vector = bool(
            self.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(resolve_database_url(settings), pool_size=settings.db_pool_size)

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Conn]:
        """A pooled connection (one transaction), or the thread's open transaction.

        `timeout`: seconds to wait for a connection (the pool's 30 s by default); callers
        that answer someone who will not wait, like the webhook, ask for less.
        """
        current = self._tx.get()
        if current is not None:
            yield current
            return
        with self._pooled(timeout) as conn, conn.transaction():
            yield conn

    @contextmanager
    def _pooled(self, timeout: float | None = None) -> Iterator[Conn]:
        """A connection from the pool (autocommit). When the server went away (a restart),
        every idle pooled connection is dead: they are all checked and dropped at the
        first failure, rather than each failing one more request (checking every
        connection before each use would add a round trip to every query)."""
        try:
            with self.pool.connection(timeout=timeout) as conn:
                self._starved_at = None
                yield conn
        except PoolTimeout:
            self._starved_at = time.monotonic()
            self._check_pool()
            raise
        except psycopg.OperationalError:
            self._check_pool()
            raise

    def _check_pool(self) -> None:
        try:
            self.pool.check()
        except Exception:  # the server may still be away: the next use retries
            log.debug("pool check failed", exc_info=True)

    def _connected(self, _conn: Conn) -> None:
        self._starved_at = None

    def unreachable(self, within: float) -> bool:
        """True when a wait for a connection timed out less than `within` seconds ago and
        no connection was handed out or made since: the server is away (or every
        connection busy). Callers that answer people (health checks, the admin session)
        then fail at once instead of each waiting its full timeout again."""
        starved = self._starved_at
        return starved is not None and time.monotonic() - starved < within

    @contextmanager
    def statement(self, timeout: float | None = None) -> Iterator[Conn]:
        """Where one statement runs: the thread's transaction, or a pooled connection in
        autocommit (the statement is its own transaction)."""
        current = self._tx.get()
        if current is not None:
            yield current
            return
        with self._pooled(timeout) as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Conn]:
        """One transaction shared by all database work in this block (nesting joins it).

        Callbacks registered with `after_commit` inside it run once it has committed (and
        are dropped if it rolls back).
        """
        current = self._tx.get()
        if current is not None:
            yield current
            return
        callbacks: list[Callable[[], object]] = []
        with self._pooled() as conn, conn.transaction():
            token = self._tx.set(conn)
            after = self._after.set(callbacks)
            try:
                yield conn
            finally:
                self._tx.reset(token)
                self._after.reset(after)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # the work is committed; a follow-up failing is only logged
                log.exception("after-commit callback failed")

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run `callback` once the current transaction commits; now, if there is none."""
        pending = self._after.get()
        if pending is None:
            callback()
        elif callback not in pending:
            pending.append(callback)

    @contextmanager
    def separate(self) -> Iterator[Conn]:
        """A connection of its own, outside the thread's transaction: what is done here
        commits at the end of the block whatever happens to that transaction."""
        with self._pooled() as conn, conn.transaction():
            yield conn

    def fetchall(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        with self.statement() as conn:
            return conn.execute(sql, params).fetchall()

    def fetchone(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        with self.statement() as conn:
            return conn.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Any = None) -> Any:
        with self.statement() as conn:
            row = conn.execute(sql, params).fetchone()
        return next(iter(row.values())) if row else None

    def execute(self, sql: str, params: Any = None) -> int:
        with self.statement() as conn:
            return conn.execute(sql, params).rowcount

    def ping(self, timeout: float = 1.0) -> None:
        """Raise unless the server answers within about `timeout` seconds (at once when
        a wait for a connection timed out less than `timeout` ago)."""
        if self.unreachable(within=timeout):
            raise PoolTimeout("no connection to the database moments ago")
        with self.connection(timeout=timeout) as conn:
            conn.execute(f"SET LOCAL statement_timeout = {int(timeout * 1000)}".encode())
            conn.execute("SELECT 1")

    def close(self) -> None:
        self.pool.close()


def create_database(admin_conninfo: str, name: str, template: str | None = None) -> str:
    """Create database `name` on the server of `admin_conninfo`; returns its conninfo."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"bad database name {name!r}")
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())
        suffix = f" TEMPLATE {template}" if template else ""
        conn.execute(f"CREATE DATABASE {name}{suffix}".encode())
    return psycopg.conninfo.make_conninfo(admin_conninfo, dbname=name)


def drop_database(admin_conninfo: str, name: str) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())
