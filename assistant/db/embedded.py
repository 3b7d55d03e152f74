"""The embedded PostgreSQL 16 (the `pgserver` wheel): started when no server is configured,
tuned once, and stopped (or deleted) when the process ends, SIGTERM and SIGHUP included,
and by a watcher process (`assistant/db/watcher.py`) when it ends in a way no handler sees
(SIGKILL, or a signal in the middle of the server's start)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
import threading
import warnings
from pathlib import Path
from typing import Any

import psycopg

from assistant.db.watcher import Watcher

log = logging.getLogger(__name__)


# The watcher of each data folder this process started or joined a server on: one is
# enough however many times the process asks for the same server.
_watchers: dict[Path, Watcher] = {}
_watchers_lock = threading.Lock()

# Signals that end a process whose exit handlers must still run: `kill` (SIGTERM), and
# the terminal closing under it (SIGHUP).
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def start_embedded_server(pgdata: Path, cleanup: str = "stop") -> str:
    """Start (or reuse) the pgserver-bundled PostgreSQL 16 keeping its data in `pgdata`.

    pgserver stops it (or, with cleanup="delete", deletes it) when the process exits."""
    return embedded_server(pgdata, cleanup)[1]


def _exit_on_sigterm() -> None:
    """Make SIGTERM and SIGHUP ordinary exits, so the exit handlers that stop the embedded
    server (and delete a throw-away one) run. Python's default action for them skips the
    handlers: `timeout 25 python -m assistant evaluate ...`, or closing the terminal of
    `assistant demo-data`, used to leave a server running and its folder behind. Programs
    with their own handler (the worker, the web app) keep it."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in EXIT_SIGNALS:
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _raise_exit)


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


# A Unix socket's path holds at most 107 bytes on Linux (103 on macOS). pgserver puts the
# server's socket in the data folder, else in a folder under its runtime path, which
# falls back to TMPDIR; with a long TMPDIR (macOS's /var/folders/..., a test runner's)
# both were too long and the server never started ("Could not find a suitable socket
# path"). Below this many bytes either place works.
_SOCKET_ROOM = 100
_SOCKET_NAME = ".s.PGSQL.5432"


def _short_socket_folder(server_class: Any, pgdata: Path, base: Path = Path("/tmp")) -> None:
    """Give pgserver a short runtime folder when neither of its own places fits a socket:
    /tmp/assistant-pg-<uid>, made 0700 and checked to be this account's own directory,
    writable by no one else, so no other account can put its own socket or link there.
    (Run as root, pgserver starts PostgreSQL as another account and opens the folder's
    prefixes for reading and traversal itself: group and others' write stays refused.)"""
    if len(os.fsencode(pgdata / _SOCKET_NAME)) <= _SOCKET_ROOM:
        return
    runtime = Path(server_class.runtime_path)
    if len(os.fsencode(runtime / "0123456789" / _SOCKET_NAME)) <= _SOCKET_ROOM:
        return
    short = base / f"assistant-pg-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        short.mkdir(mode=0o700)
    info = os.lstat(short)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise RuntimeError(
            f"{short} is not a private directory of this account: remove it, or set a"
            " shorter TMPDIR for the embedded PostgreSQL's socket"
        )
    server_class.runtime_path = short


def embedded_server(
    pgdata: Path, cleanup: str = "stop", watcher: Watcher | None = None
) -> tuple[Any, str]:
    """The pgserver handle and its URI; `handle.cleanup()` stops it before exit.

    A watcher process stops it (and, with cleanup="delete", deletes `pgdata`) if this
    process dies without doing so: `watcher` when given (the caller releases it once it
    cleaned up), else one of this process's own, for as long as the process lives."""
    _exit_on_sigterm()
    with warnings.catch_warnings():
        # platformdirs complains when XDG_RUNTIME_DIR is unset; harmless here.
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver.postgres_server import PostgresServer

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgdata = pgdata.resolve()
        _short_socket_folder(PostgresServer, pgdata)
        # Watched before the server exists: from here on, whatever becomes of this
        # process, a process that outlives it will stop the server.
        try:
            if watcher is None:
                with _watchers_lock:
                    if pgdata not in _watchers:
                        _watchers[pgdata] = Watcher()
                        _watchers[pgdata].watch_server(
                            pgdata, PostgresServer.lock_path, cleanup == "delete"
                        )
            else:
                watcher.watch_server(pgdata, PostgresServer.lock_path, cleanup == "delete")
        except OSError:  # no process to spare: the exit handlers are still there
            log.warning("no watcher for the embedded PostgreSQL in %s", pgdata, exc_info=True)
        server = pgserver.get_server(pgdata, cleanup_mode=cleanup)
    try:
        uri = str(server.get_uri())
        _tune_embedded(server, uri)
    except BaseException:
        # Interrupted (Ctrl-C) while tuning and restarting: stop the server now, so the
        # caller's folder can go. Left running until exit, it wrote new files into a
        # folder the caller had already removed (seen as a leftover sandbox folder).
        with contextlib.suppress(Exception):
            server.cleanup()
        raise
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
