"""`assistant backup`: one tar file with a consistent database dump, the media objects and
a manifest. Reading one (`assistant backup verify`, `assistant restore`) is
`assistant/ops/restore.py`.

The archive (a plain, uncompressed tar: photos and voice notes are compressed already,
and `pg_dump --format=custom` compresses the dump itself) holds

    manifest.json      what is inside, with sha256s (`Manifest`)
    db.dump            pg_dump --format=custom of the whole database
    media/<key>        each object of the store, under its key

Nothing read from an archive is trusted: member names and manifest keys are checked
(`safe_key`) and members are never extracted to a path named by the archive.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal, TypeVar

import psycopg
from botocore.exceptions import ClientError
from psycopg import sql
from pydantic import BaseModel, field_validator
from tqdm import tqdm

from assistant.config import Settings
from assistant.db import resolve_database_url
from assistant.media import LocalMediaStore, MediaStore, UrlSigner
from assistant.media.s3 import S3MediaStore
from assistant.ops.pgtools import find_tool, run_tool, server_version, without_password

DUMP = "db.dump"
MANIFEST = "manifest.json"
MEDIA = "media/"
# A deletion swept between the dump and the copy makes one more dump necessary (below);
# three in a row would take a user deleting photos continuously.
ATTEMPTS = 3
MAX_MANIFEST_BYTES = 1 << 30
CHUNK = 1 << 20
T = TypeVar("T")


class BackupError(RuntimeError):
    pass


class UnsafeName(ValueError):
    pass


def safe_key(key: str) -> str:
    """An object key that stays inside the media directory whatever the store: relative,
    '/'-separated, no empty, '.' or '..' part (so no `../x`, no `/etc/x`)."""
    parts = key.split("/")
    if (
        not key
        or key.startswith("/")
        or "\\" in key
        or "\x00" in key
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise UnsafeName(f"unsafe name in archive: {key!r}")
    return key


class ObjectEntry(BaseModel):
    key: str
    size: int
    sha256: str | None = None  # of the bytes in the archive
    etag: str | None = None  # S3's, for an object left in the bucket
    in_archive: bool

    @field_validator("key")
    @classmethod
    def _safe(cls, key: str) -> str:
        return safe_key(key)


class DumpEntry(BaseModel):
    size: int
    sha256: str
    server_version: str
    pg_dump_major: int


class Manifest(BaseModel):
    format: Literal[1] = 1
    created_at: datetime
    schema_version: int  # the highest migration applied (sql/NNN_*.sql)
    store: Literal["local", "s3"]
    bucket: str | None = None
    database: DumpEntry
    tables: dict[str, int]  # rows per table, counted in the dump's snapshot
    objects: list[ObjectEntry]
    # Keys rows referenced that the store no longer had when the backup began: a store
    # damaged before the backup, reported rather than hidden.
    missing: list[str] = []
    attempts: int = 1


def open_store(settings: Settings) -> MediaStore:
    if settings.bucket_name:
        store = S3MediaStore(settings)
        store.check()
        return store
    # No links are signed here: the signer's key is never used.
    return LocalMediaStore(settings.media_dir, UrlSigner(b""))


def sha256_of(stream: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def gone(exc: Exception) -> bool:
    """Whether a store's error means "no such object" (rather than an outage)."""
    if isinstance(exc, FileNotFoundError):
        return True
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    return code in ("404", "NoSuchKey", "NotFound")


def bar(items: list[T], desc: str, progress: bool) -> Iterator[T]:
    """A progress bar on stderr; refreshed every 30 s when stderr is a log, not a terminal."""
    slow = 0.5 if sys.stderr.isatty() else 30
    return iter(
        tqdm(items, desc, unit="obj", disable=not progress, mininterval=slow, file=sys.stderr)
    )


def say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


# Every key a row uses: images and thumbnails, voice notes in the message log, and a
# reply's image still waiting to be sent (the rows `Catalog.sweep` protects).
REFERENCED = """
SELECT storage_key AS key FROM images
UNION SELECT thumb_key FROM images WHERE thumb_key IS NOT NULL
UNION SELECT m->>'key' FROM messages, jsonb_array_elements(media) m
      WHERE media <> '[]'::jsonb AND m->>'key' IS NOT NULL
UNION SELECT media_key FROM outbox WHERE media_key IS NOT NULL
      AND status IN ('pending', 'sending')
"""


@dataclass
class Snapshot:
    tables: dict[str, int]
    schema_version: int
    referenced: set[str]


def table_counts(conn: psycopg.Connection) -> dict[str, int]:  # type: ignore[type-arg]
    names = [
        r[0]
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
    ]
    counts: dict[str, int] = {}
    for name in names:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", name))
        row = conn.execute(query).fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts


def dump_database(conninfo: str, pg_dump: str, target: Path) -> Snapshot:
    """pg_dump into `target`, and what the dump holds, read in the same snapshot: the
    snapshot is exported by a repeatable-read transaction kept open until pg_dump is done,
    and pg_dump (`--snapshot`) dumps exactly what that transaction sees."""
    dsn, env = without_password(conninfo)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            tables = table_counts(conn)
            if "images" not in tables or "schema_migrations" not in tables:
                raise BackupError("not an assistant database (no images table)")
            top = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            schema = int(top.fetchone()[0])  # type: ignore[index]
            referenced = {r[0] for r in conn.execute(REFERENCED)}
            run_tool(
                [pg_dump, "--format=custom", f"--snapshot={row[0]}", "--file", str(target)]
                + ["--dbname", dsn],
                env,
            )
        finally:
            conn.execute("ROLLBACK")
    return Snapshot(tables, schema, referenced)


def referenced_now(conninfo: str) -> set[str]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return {r[0] for r in conn.execute(REFERENCED)}


def listing(store: MediaStore, prefix: str) -> dict[str, ObjectEntry]:
    """The store's objects now: the local store's every file, the bucket's under PREFIX
    (with their ETag and size, which is all a manifest records of objects left there)."""
    if isinstance(store, S3MediaStore):
        found = {}
        pages = store.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=store.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key, etag = obj["Key"], str(obj.get("ETag", "")).strip('"')
                found[key] = ObjectEntry(key=key, size=obj["Size"], etag=etag, in_archive=False)
        return found
    assert isinstance(store, LocalMediaStore)
    found = {}
    for key in store.list_keys():
        try:
            size = (store.root / key).stat().st_size
        except FileNotFoundError:
            # Swept between the folder's listing and this look at it (photos keep
            # arriving and being deleted during a backup): it is not there.
            continue
        found[key] = ObjectEntry(key=key, size=size, in_archive=False)
    return found


def head(store: MediaStore, key: str) -> ObjectEntry | None:
    """An object's ETag and size in the bucket; None when it is not there."""
    assert isinstance(store, S3MediaStore)
    try:
        meta = store.client.head_object(Bucket=store.bucket, Key=key)
    except ClientError as exc:
        if gone(exc):
            return None
        raise
    etag = str(meta.get("ETag", "")).strip('"')
    return ObjectEntry(key=key, size=meta["ContentLength"], etag=etag, in_archive=False)


def add_member(tar: tarfile.TarFile, name: str, stream: IO[bytes], size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o600
    tar.addfile(info, stream)


@contextmanager
def atomic_file(out: Path) -> Iterator[IO[bytes]]:
    """A new 0600 file under a temporary name, renamed to `out` once complete: a backup
    interrupted half-way (disk full, Ctrl-C) never looks like a finished one."""
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a crash
    finally:
        os.close(folder)


def backup(
    settings: Settings, out: Path, *, with_media: bool = False, progress: bool = False
) -> Manifest:
    """Write a backup to `out` (see the module's docstring); returns its manifest."""
    conninfo = resolve_database_url(settings)
    major, version = server_version(conninfo)
    embedded = settings.configured_database_url() is None
    pg_dump = find_tool("pg_dump", major, embedded=embedded)
    store = open_store(settings)
    s3 = isinstance(store, S3MediaStore)
    copy = with_media or not s3
    out = out.absolute()
    objects: dict[str, ObjectEntry] = {}
    lost: set[str] = set()
    with (
        tempfile.TemporaryDirectory(prefix=".backup-", dir=out.parent) as work,
        atomic_file(out) as fh,
        tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        dump = Path(work) / DUMP
        for attempt in range(1, ATTEMPTS + 1):
            # Why dump first and copy after is consistent: an object is written before
            # the row that uses it commits (Catalog.store_image), so every object a
            # dumped row uses exists when the dump's snapshot is taken; after that, the
            # only deletion is the sweep's (Catalog.sweep), which removes an object only
            # once no committed row uses it. An object a dumped row uses can thus only
            # vanish if that row is deleted after the snapshot and swept before we copy:
            # that is checked below (the snapshot's keys against those copied) and
            # answered with a new dump, which no longer has the row. New objects written
            # meanwhile are extra, harmless, content-addressed copies.
            say(progress, f"dumping the database (PostgreSQL {version}) ...")
            snap = dump_database(conninfo, pg_dump, dump)
            now = listing(store, settings.prefix)
            # Keys rows use outside the listing (outside PREFIX): asked for one by one.
            todo = sorted(now.keys() - objects.keys())
            todo += sorted(snap.referenced - now.keys() - objects.keys())
            for key in bar(todo, "objects", progress):
                entry = now.get(key)
                if not copy:
                    entry = entry or head(store, key)
                    if entry is not None:
                        objects[key] = entry
                    continue
                try:
                    data = store.get(key)
                except (FileNotFoundError, ClientError) as exc:
                    if gone(exc):  # swept since the listing, or never there: see below
                        continue
                    raise
                sha = hashlib.sha256(data).hexdigest()
                add_member(tar, MEDIA + key, io.BytesIO(data), len(data))
                objects[key] = ObjectEntry(
                    key=key,
                    size=len(data),
                    sha256=sha,
                    etag=entry.etag if entry else None,
                    in_archive=copy,
                )
            missing = snap.referenced - objects.keys()
            if not missing:
                break
            lost = missing & referenced_now(conninfo)
            if lost == missing:  # rows still use them: the store lacked them before
                say(True, f"warning: {len(lost)} objects rows use are not in the store")
                break
            if attempt == ATTEMPTS:
                raise BackupError("objects kept being deleted during the backup; try again")
            say(progress, f"{len(missing - lost)} objects deleted during the copy: again")
        with dump.open("rb") as stream:
            dump_sha, dump_size = sha256_of(stream)
            stream.seek(0)
            add_member(tar, DUMP, stream, dump_size)
        manifest = Manifest(
            created_at=datetime.now(UTC),
            schema_version=snap.schema_version,
            store="s3" if s3 else "local",
            bucket=settings.bucket_name if s3 else None,
            database=DumpEntry(
                size=dump_size, sha256=dump_sha, server_version=version, pg_dump_major=major
            ),
            tables=snap.tables,
            objects=sorted(objects.values(), key=lambda o: o.key),
            missing=sorted(lost),
            attempts=attempt,
        )
        body = manifest.model_dump_json(indent=1).encode()
        add_member(tar, MANIFEST, io.BytesIO(body), len(body))
    return manifest
