"""Numbered plain-SQL migrations, shipped inside the package (`assistant/db/sql`, built
from the repository's top-level `sql/`) and applied under an advisory lock."""

from __future__ import annotations

import logging
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)


def sql_dir() -> Traversable:
    """The migrations: the `assistant.db.sql` package of an installed wheel (or an
    editable install, which maps it to the repository's `sql/`), else the source tree's."""
    try:
        return resources.files("assistant.db.sql")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "sql"


# Any constant works; it only has to be the same in every process that migrates.
MIGRATION_LOCK_ID = 7_405_331_902


_MIGRATION_NAME = re.compile(r"^(\d{3,})_[\w-]+\.sql$")


def migration_files(directory: Traversable | None = None) -> list[tuple[int, Traversable]]:
    found = []
    for path in sorted((directory or sql_dir()).iterdir(), key=lambda p: p.name):
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    if not found:  # a package without its SQL would silently apply nothing
        raise RuntimeError(f"no migrations found in {directory or sql_dir()}")
    return found


def migrate(conninfo: str, directory: Traversable | None = None) -> list[int]:
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
            for version, path in migration_files(directory):
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
