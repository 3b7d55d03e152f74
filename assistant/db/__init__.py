"""PostgreSQL: the pool (`Database`), the embedded server used when none is configured,
and the migrations (plain SQL in the repository's `sql/`, shipped inside the package)."""

from assistant.db.embedded import embedded_server, start_embedded_server
from assistant.db.migrations import migrate, migration_files
from assistant.db.pool import (
    Conn,
    Database,
    create_database,
    drop_database,
    redact,
    resolve_database_url,
)

__all__ = [
    "Conn",
    "Database",
    "create_database",
    "drop_database",
    "embedded_server",
    "migrate",
    "migration_files",
    "redact",
    "resolve_database_url",
    "start_embedded_server",
]
