"""Connection pool, the embedded PostgreSQL server, and migrations from `sql/`."""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from assistant.config import ConfigError, Settings

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
# Any constant works; it only has to be the same in every process that migrates.
MIGRATION_LOCK_ID = 7_405_331_902
_MIGRATION_NAME = re.compile(r"^(\d{3,})_[\w-]+\.sql$")

Conn = psycopg.Connection[dict[str, Any]]


def start_embedded_server(pgdata: Path, cleanup: str = "stop") -> str:
    """Start (or reuse) the pgserver-bundled PostgreSQL 16 keeping its data in `pgdata`.

    pgserver stops it (or, with cleanup="delete", deletes it) when the process exits."""
    return embedded_server(pgdata, cleanup)[1]


def _exit_on_sigterm() -> None:
    """Make SIGTERM an ordinary exit, so the exit handlers that stop the embedded server
    (and delete a throw-away one) run. Python's default action for SIGTERM skips them:
    `timeout 25 python -m assistant.evaluate ...` used to leave a server running and its
    folder behind. Programs with their own handler (the worker, the web app) keep it."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def embedded_server(pgdata: Path, cleanup: str = "stop") -> tuple[Any, str]:
    """The pgserver handle and its URI; `handle.cleanup()` stops it before exit."""
    _exit_on_sigterm()
    with warnings.catch_warnings():
        # platformdirs complains when XDG_RUNTIME_DIR is unset; harmless here.
        warnings.simplefilter("ignore")
        import pgserver

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(pgdata.resolve(), cleanup_mode=cleanup)
    uri = str(server.get_uri())
    _tune_embedded(server, uri)
    return server, uri


def _shared_buffers_mb() -> int:
    """A quarter of the machine's memory, between 128 MB (Postgres' default) and 1 GB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 128
    return max(128, min(1024, total // 4 // 2**20))


def _tune_embedded(server: Any, uri: str) -> None:
    """Give the embedded server a production-like buffer cache, once per data directory.

    Postgres ships with 128 MB of shared buffers; a large catalog's searches then read
    most pages from the OS cache (measured: p95 73 ms instead of far less at 1M entries).
    Applied with ALTER SYSTEM (kept in the data directory) and one restart, at the first
    start only, before anything else connects. A failure only leaves the default.
    """
    wanted = _shared_buffers_mb()
    try:
        with psycopg.connect(uri, autocommit=True) as conn:
            row = conn.execute(
                "SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'"
            ).fetchone()
            if row is None or int(row[0]) >= wanted:
                return
            conn.execute(f"ALTER SYSTEM SET shared_buffers = '{wanted}MB'".encode())
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)
        # pgserver stops the server at exit only if the postmaster it remembers is still
        # running: point it at the restarted one, or every first start leaks a server.
        from pgserver.postgres_server import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(server.pgdata)
        if info is not None:
            server._postmaster_info = info
        log.info("embedded PostgreSQL: shared_buffers set to %d MB", wanted)
    except Exception:
        log.warning("could not tune the embedded PostgreSQL; using its defaults", exc_info=True)


def redact(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def resolve_database_url(settings: Settings) -> str:
    return settings.configured_database_url() or start_embedded_server(settings.embedded_pg_dir)


def migration_files(sql_dir: Path = SQL_DIR) -> list[tuple[int, Path]]:
    found = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


def migrate(conninfo: str, sql_dir: Path = SQL_DIR) -> list[int]:
    """Apply pending migrations; returns the versions applied by this call.

    An advisory lock serialises concurrent callers (web and worker starting together),
    and every file runs in its own transaction with its version recorded.
    """
    applied: list[int] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, path in migration_files(sql_dir):
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text(encoding="utf-8").encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (version, path.name),
                    )
                applied.append(version)
                log.info("applied migration %s", path.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    return applied


class Database:
    """A pool of connections with dict rows; each `connection()` block is one transaction.

    Inside `transaction()` every `connection()` block of the same thread (or task) joins
    that one transaction, so a whole message is handled atomically: a worker that dies
    half-way leaves nothing behind, and the retry starts from a clean state.
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
        self.pool: ConnectionPool[Conn] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            # No server-side prepared statements: after five runs psycopg would prepare a
            # query and Postgres may then switch to a generic plan, which cannot use the
            # parameters' values. For the per-owner postings that meant scanning a 50k-entry
            # user's whole range instead of the query's words (measured: 71 ms vs 0.9 ms).
            # Every statement is planned for its values instead; it also keeps the pool
            # usable behind PgBouncer's transaction pooling.
            kwargs={"row_factory": dict_row, "prepare_threshold": None},
            # A connection is checked before it is handed out: after a server restart the
            # pooled ones are dead, and each would otherwise fail one request.
            check=ConnectionPool.check_connection,
            # Reconnection attempts continue for as long as an outage lasts.
            reconnect_timeout=24 * 3600,
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
        with self.pool.connection(timeout=timeout) as conn:
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
        with self.pool.connection() as conn:
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
        with self.pool.connection() as conn:
            yield conn

    def fetchall(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        with self.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def fetchone(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        with self.connection() as conn:
            return conn.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Any = None) -> Any:
        with self.connection() as conn:
            row = conn.execute(sql, params).fetchone()
        return next(iter(row.values())) if row else None

    def execute(self, sql: str, params: Any = None) -> int:
        with self.connection() as conn:
            return conn.execute(sql, params).rowcount

    def ping(self, timeout: float = 1.0) -> None:
        """Raise unless the server answers within about `timeout` seconds."""
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
