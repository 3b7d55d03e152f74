"""Postgres -> Parquet, for DuckDB notebooks and sharing a catalog for analysis.

Files are written in id order with fixed writer options, so exporting unchanged data
twice gives byte-identical files (only the manifest's time differs).

Exports hold users' words and photos' metadata: files are written 0600 in a folder
created 0700. Anonymised, every phone number becomes a keyed hash (HMAC-SHA256), and
every free-text column (descriptions, captions, tags, message bodies, search queries,
remembered facts) has the users' profile names and long numbers masked.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from assistant.db import Database
from assistant.media.local import private_dir
from assistant.search.text import fold

BATCH_ROWS = 5_000
# Eight digits or more, whatever separates them: phone numbers with or without the area
# code, CPF/CNPJ, card and account numbers (a date like 2026-11-26 goes too; a year stays).
_NUMBER_IN_TEXT = re.compile(r"\+?\(?\d(?:[\s().\-/]*\d){7,}")
_EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_LETTERS = re.compile(r"[^\W\d_]+")
NAME = "[name]"
NUMBER = "[phone]"
EMAIL = "[email]"

TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Table:
    name: str
    sql: str  # selects rows with id > %s, ordered by id, limited by %s
    schema: pa.Schema
    owner_columns: tuple[str, ...] = ("owner",)
    text_columns: tuple[str, ...] = ()  # str or list[str] columns of free text
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
        text_columns=("description", "caption", "tags"),
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
        text_columns=("body", "search_queries"),
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
    """Keyed hashes for phone numbers; names, numbers and e-mail addresses in text masked.

    `names` are people's names to mask wherever they appear in text (the export adds the
    users' profile names): the whole name and each of its words of 3 letters or more
    ("Maria Aparecida Souza": "Maria", "Aparecida", "Souza"), ignoring case and accents.
    """

    def __init__(self, salt: bytes, names: Iterable[str] = ()):
        self.salt = salt
        self.names = tuple(sorted({n for n in names if n and n.strip()}))
        self._words: set[str] = set()  # folded words that are (part of) a name
        self._joiners: set[str] = set()  # short words inside names ("da", "de")
        for name in self.names:
            words = _LETTERS.findall(_fold(name)[0])
            long = [w for w in words if len(w) >= 3]
            # A name of short words only ("Li Na") is masked word by word all the same.
            self._words.update(long or [w for w in words if len(w) >= 2])
            self._joiners.update(w for w in words if len(w) < 3)

    def with_names(self, names: Iterable[str]) -> Anonymizer:
        return Anonymizer(self.salt, [*self.names, *names])

    def owner(self, phone: str) -> str:
        # The full HMAC-SHA256: a shortened digest of a small space (phone numbers) is
        # easier to match by brute force, and collisions would merge two users.
        return "u_" + hmac.new(self.salt, phone.encode(), hashlib.sha256).hexdigest()

    def text(self, value: str | None) -> str | None:
        if not value:
            return value
        # Addresses first: a name inside one would otherwise break it up and leave the rest.
        value = _EMAIL_IN_TEXT.sub(EMAIL, value)
        value = self._mask_names(value)
        return _NUMBER_IN_TEXT.sub(NUMBER, value)

    def _mask_names(self, value: str) -> str:
        if not self._words:
            return value
        folded, origin = _fold(value)
        spans: list[list[int]] = []  # [start, end) in `folded`
        for match in _LETTERS.finditer(folded):
            if match.group() in self._words:
                gap = folded[spans[-1][1] : match.start()] if spans else None
                if gap is not None and _joins(gap, self._joiners):
                    spans[-1][1] = match.end()  # "Maria da Silva" is one name
                else:
                    spans.append([match.start(), match.end()])
        if not spans:
            return value
        out: list[str] = []
        last = 0
        for start, end in spans:
            a, b = origin[start], origin[end - 1] + 1
            out += [value[last:a], NAME]
            last = b
        out.append(value[last:])
        return "".join(out)


def _fold(text: str) -> tuple[str, Sequence[int]]:
    """`text` lower-cased without accents, and for each of its characters the index of
    the original character it came from (so a match in the folded text masks the
    original's characters)."""
    if text.isascii():
        return text.lower(), range(len(text))
    pieces = [_fold_char(ch) for ch in text]
    folded = "".join(pieces)
    if len(folded) == len(text):  # one for one, as in Portuguese and English
        return folded, range(len(text))
    return folded, [i for i, piece in enumerate(pieces) for _ in piece]


# Cached: texts repeat few distinct characters. One character may fold to none or several.
_fold_char = functools.cache(fold)


def _joins(gap: str, joiners: set[str]) -> bool:
    """Whether two name words with `gap` between them are one name: only spaces, or a
    short word of a name ("da", "de") between spaces."""
    if not gap or not gap[0].isspace() or not gap[-1].isspace():
        return False
    words = gap.split()
    return not words or (len(words) == 1 and words[0] in joiners)


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
    if not out.exists():
        private_dir(out)  # an existing folder is the caller's: its mode is left alone
    if anonymizer:
        anonymizer = anonymizer.with_names(
            r["profile_name"]
            for r in db.fetchall("SELECT profile_name FROM users WHERE profile_name <> ''")
        )
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
        with (
            _private_file(path) as fh,
            pq.ParquetWriter(fh, schema, compression="zstd", write_statistics=True) as writer,
        ):
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
    with _private_file(out / "manifest.json") as fh:
        fh.write((json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def _private_file(path: Path) -> BinaryIO:
    """`path` opened for writing, truncated, readable by this account only (0600, also
    when it already existed with a wider mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb")


def _source(table: Table) -> str:
    return {"entries": "descriptions", "memory": "memory_facts"}.get(table.name, table.name)


def _anonymize(row: dict[str, Any], table: Table, anonymizer: Anonymizer) -> dict[str, Any]:
    row = {k: v for k, v in row.items() if k not in table.drop_when_anonymous}
    for column in table.owner_columns:
        row[column] = anonymizer.owner(row[column])
    for column in table.text_columns:
        value = row[column]
        if isinstance(value, list):
            row[column] = [anonymizer.text(v) for v in value]
        else:
            row[column] = anonymizer.text(value)
    return row


def load_salt(path: Path) -> bytes:
    """A secret key kept beside the data, so repeated exports hash a number the same way.

    Whoever reads it can test guessed phone numbers against the hashes: it is created
    0600 (never world-readable, not even for a moment) and an existing one is made 0600.
    """
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
    else:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))  # HMAC-SHA256's block-sized key
    salt = path.read_bytes()
    if not salt:
        raise ValueError(f"{path} is empty: delete it to make a new salt")
    return salt
