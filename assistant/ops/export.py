"""Postgres -> Parquet, for DuckDB notebooks and sharing a catalog for analysis.

Files are written in id order with fixed writer options, so exporting unchanged data
twice gives byte-identical files (only the manifest's time differs).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from assistant.db import Database

BATCH_ROWS = 5_000
_PHONE_IN_TEXT = re.compile(r"\+?\d[\d\s().-]{7,}\d")

TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Table:
    name: str
    sql: str  # selects rows with id > %s, ordered by id, limited by %s
    schema: pa.Schema
    owner_columns: tuple[str, ...] = ("owner",)
    text_columns: tuple[str, ...] = ()
    drop_when_anonymous: tuple[str, ...] = ()


TABLES = [
    Table(
        "entries",
        "SELECT d.id, d.owner, d.description, d.caption, d.tags, d.created_at,"
        " (SELECT count(*) FROM images i WHERE i.description_id = d.id)::int AS image_count"
        " FROM descriptions d WHERE d.id > %s ORDER BY d.id LIMIT %s",
        pa.schema(
            [
                ("id", pa.int64()),
                ("owner", pa.string()),
                ("description", pa.string()),
                ("caption", pa.string()),
                ("tags", pa.list_(pa.string())),
                ("created_at", TS),
                ("image_count", pa.int32()),
            ]
        ),
        text_columns=("description", "caption"),
    ),
    Table(
        "images",
        "SELECT id, owner, description_id AS entry_id, sha256, content_type, byte_size,"
        " width, height, created_at FROM images WHERE id > %s ORDER BY id LIMIT %s",
        pa.schema(
            [
                ("id", pa.int64()),
                ("owner", pa.string()),
                ("entry_id", pa.int64()),
                ("sha256", pa.string()),
                ("content_type", pa.string()),
                ("byte_size", pa.int32()),
                ("width", pa.int32()),
                ("height", pa.int32()),
                ("created_at", TS),
            ]
        ),
    ),
    Table(
        "messages",
        "SELECT id, owner, direction, body, channel, in_memory, created_at,"
        " jsonb_array_length(media)::int AS media_count,"
        " (meta->>'latency_ms')::float8 AS latency_ms, meta->>'brain' AS brain,"
        " (meta->>'in_reply_to')::bigint AS in_reply_to,"
        " ARRAY(SELECT t->>'name' FROM jsonb_array_elements(coalesce(meta->'tools', '[]'))"
        "   AS t) AS tools,"
        " ARRAY(SELECT t->>'query' FROM jsonb_array_elements(coalesce(meta->'tools', '[]'))"
        "   AS t WHERE t->>'name' = 'search_photos') AS search_queries,"
        " (SELECT sum((t->>'photos')::int) FROM jsonb_array_elements("
        "   coalesce(meta->'tools', '[]')) AS t WHERE t->>'name' = 'search_photos')::int"
        "   AS photos_found"
        " FROM messages WHERE id > %s ORDER BY id LIMIT %s",
        pa.schema(
            [
                ("id", pa.int64()),
                ("owner", pa.string()),
                ("direction", pa.string()),
                ("body", pa.string()),
                ("channel", pa.string()),
                ("in_memory", pa.bool_()),
                ("created_at", TS),
                ("media_count", pa.int32()),
                ("latency_ms", pa.float64()),
                ("brain", pa.string()),
                ("in_reply_to", pa.int64()),
                ("tools", pa.list_(pa.string())),
                ("search_queries", pa.list_(pa.string())),
                ("photos_found", pa.int32()),
            ]
        ),
        text_columns=("body",),
    ),
    Table(
        "memory",
        "SELECT id, owner, fact, created_at FROM memory_facts WHERE id > %s ORDER BY id LIMIT %s",
        pa.schema(
            [("id", pa.int64()), ("owner", pa.string()), ("fact", pa.string()), ("created_at", TS)]
        ),
        text_columns=("fact",),
    ),
    Table(
        "users",
        "SELECT row_number() OVER (ORDER BY phone) AS id, phone AS owner, profile_name,"
        " language, created_at, last_seen_at FROM users"
        " ORDER BY phone OFFSET %s LIMIT %s",
        pa.schema(
            [
                ("id", pa.int64()),
                ("owner", pa.string()),
                ("profile_name", pa.string()),
                ("language", pa.string()),
                ("created_at", TS),
                ("last_seen_at", TS),
            ]
        ),
        drop_when_anonymous=("profile_name",),
    ),
]


class Anonymizer:
    """Stable salted hashes for phone numbers; phone-like digits in text are masked."""

    def __init__(self, salt: bytes):
        self.salt = salt

    def owner(self, phone: str) -> str:
        return "u_" + hmac.new(self.salt, phone.encode(), hashlib.sha256).hexdigest()[:16]

    @staticmethod
    def text(value: str | None) -> str | None:
        return _PHONE_IN_TEXT.sub("[phone]", value) if value else value


def _batches(db: Database, table: Table) -> Iterator[list[dict[str, Any]]]:
    cursor: int = 0
    while True:
        rows = db.fetchall(table.sql, (cursor, BATCH_ROWS))
        if not rows:
            return
        yield rows
        cursor = rows[-1]["id"] if table.name != "users" else cursor + len(rows)


def export(
    db: Database,
    out: Path,
    *,
    anonymizer: Anonymizer | None = None,
    progress: bool = True,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Write one Parquet file per table and `manifest.json`; returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    totals = {t.name: int(db.scalar(f"SELECT count(*) FROM {_source(t)}")) for t in TABLES}
    manifest: dict[str, Any] = {
        "schema_version": int(db.scalar("SELECT max(version) FROM schema_migrations")),
        "exported_at": clock().isoformat(),
        "anonymized": anonymizer is not None,
        "tables": {},
    }
    bar = tqdm(total=sum(totals.values()), unit="rows", disable=not progress, desc="export")
    for table in TABLES:
        schema = table.schema
        if anonymizer:
            schema = pa.schema([f for f in schema if f.name not in table.drop_when_anonymous])
        path = out / f"{table.name}.parquet"
        rows_written = 0
        with pq.ParquetWriter(path, schema, compression="zstd", write_statistics=True) as writer:
            for rows in _batches(db, table):
                if anonymizer:
                    rows = [_anonymize(row, table, anonymizer) for row in rows]
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                rows_written += len(rows)
                bar.update(len(rows))
        manifest["tables"][table.name] = {
            "file": path.name,
            "rows": rows_written,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
    bar.close()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _source(table: Table) -> str:
    return {"entries": "descriptions", "memory": "memory_facts"}.get(table.name, table.name)


def _anonymize(row: dict[str, Any], table: Table, anonymizer: Anonymizer) -> dict[str, Any]:
    row = {k: v for k, v in row.items() if k not in table.drop_when_anonymous}
    for column in table.owner_columns:
        row[column] = anonymizer.owner(row[column])
    for column in table.text_columns:
        row[column] = anonymizer.text(row[column])
    return row


def load_salt(path: Path) -> bytes:
    """A salt kept beside the data, so repeated exports hash a number the same way."""
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(secrets.token_bytes(16))
    return path.read_bytes()
