"""Reading a backup (`assistant/ops/backup.py`): `verify` checks an archive against its
manifest, `restore` puts it into an empty database and media store.

Nothing in an archive is trusted: every member must be a regular file named `manifest.json`,
`db.dump` or `media/<safe key>`, the manifest is validated (pydantic, keys included), and
objects reach the store only through its `put` under a checked key, never as paths.
"""

from __future__ import annotations

import hashlib
import mimetypes
import tarfile
import tempfile
from pathlib import Path

import psycopg
from pydantic import BaseModel, ValidationError

from assistant.config import Settings
from assistant.db import migrate, migration_files, resolve_database_url
from assistant.media import LocalMediaStore, MediaStore
from assistant.media.local import private_dir
from assistant.media.s3 import S3MediaStore
from assistant.ops.backup import (
    CHUNK,
    DUMP,
    MANIFEST,
    MAX_MANIFEST_BYTES,
    MEDIA,
    Manifest,
    UnsafeName,
    bar,
    head,
    open_store,
    safe_key,
    say,
    sha256_of,
    table_counts,
)
from assistant.ops.pgtools import find_tool, run_tool, without_password


class RestoreRefused(RuntimeError):
    """The target is not empty (without --force), or cannot take this backup."""


class RestoreFailed(RuntimeError):
    pass


# --- verify ---------------------------------------------------------------------------


class Verified(BaseModel):
    manifest: Manifest | None = None
    objects: int = 0
    bytes: int = 0
    problems: list[str] = []

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems

    def summary(self) -> str:
        if self.manifest is None:
            return "not a usable backup: " + "; ".join(self.problems)
        m = self.manifest
        rows = sum(m.tables.values())
        left = sum(1 for o in m.objects if not o.in_archive)
        lines = [
            f"backup of {m.created_at:%Y-%m-%d %H:%M:%S} UTC, schema version"
            f" {m.schema_version}, PostgreSQL {m.database.server_version}",
            f"database: {rows:,} rows in {len(m.tables)} tables, dump"
            f" {m.database.size / 1e6:,.1f} MB",
            f"objects: {self.objects:,} checked ({self.bytes / 1e6:,.1f} MB)"
            + (f", {left:,} left in bucket {m.bucket}" if left else ""),
        ]
        if m.missing:
            lines.append(f"warning: {len(m.missing)} objects were missing from the store")
        lines += [f"MISMATCH: {p}" for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"... and {len(self.problems) - 20} more problems")
        lines.append("OK" if self.ok else f"FAILED: {len(self.problems)} problems")
        return "\n".join(lines)


def archive_members(tar: tarfile.TarFile) -> tuple[dict[str, tarfile.TarInfo], list[str]]:
    """Members by name, each a regular file with a safe name; problems for the rest."""
    found: dict[str, tarfile.TarInfo] = {}
    problems: list[str] = []
    for member in tar.getmembers():
        name = member.name
        try:
            if name not in (DUMP, MANIFEST):
                if not name.startswith(MEDIA):
                    raise UnsafeName(
                        f"unsafe name in archive: {name!r} (not {MANIFEST}, {DUMP}, {MEDIA}...)"
                    )
                safe_key(name[len(MEDIA) :])
        except UnsafeName as exc:
            problems.append(str(exc))
            continue
        if not member.isreg():
            problems.append(f"{name!r} is not a regular file")
        elif name in found:
            problems.append(f"{name!r} appears twice")
        else:
            found[name] = member
    return found, problems


def read_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Manifest:
    if member.size > MAX_MANIFEST_BYTES:
        raise ValueError("manifest.json is implausibly large")
    stream = tar.extractfile(member)
    assert stream is not None
    return Manifest.model_validate_json(stream.read())


def verify(path: Path, *, progress: bool = False) -> Verified:
    """Check the manifest, the dump's sha256 and every object's; problems, not exceptions."""
    try:
        with tarfile.open(path, "r:") as tar:
            return check_archive(tar, progress)
    except (OSError, tarfile.TarError) as exc:
        return Verified(problems=[f"cannot read {path}: {exc}"])


def check_archive(tar: tarfile.TarFile, progress: bool) -> Verified:
    members, problems = archive_members(tar)
    if MANIFEST not in members:
        return Verified(problems=[*problems, "no manifest.json"])
    try:
        manifest = read_manifest(tar, members[MANIFEST])
    except (ValueError, ValidationError) as exc:
        reason = str(exc).splitlines()[0]
        return Verified(problems=[*problems, f"manifest.json unreadable: {reason}"])
    if DUMP not in members:
        problems.append("no db.dump")
    else:
        stream = tar.extractfile(members[DUMP])
        assert stream is not None
        sha, size = sha256_of(stream)
        if (sha, size) != (manifest.database.sha256, manifest.database.size):
            problems.append("db.dump: sha256 or size differs from the manifest")
    expected = {o.key: o for o in manifest.objects if o.in_archive}
    names = [n for n in members if n.startswith(MEDIA)]
    objects = total = 0
    for name in bar(names, "verify", progress):
        key = name[len(MEDIA) :]
        entry = expected.pop(key, None)
        stream = tar.extractfile(members[name])
        assert stream is not None
        sha, size = sha256_of(stream)
        objects, total = objects + 1, total + size
        if entry is None:
            problems.append(f"{key}: in the archive, not in the manifest")
        elif (sha, size) != (entry.sha256, entry.size):
            problems.append(f"{key}: sha256 or size differs from the manifest")
    problems.extend(f"{key}: in the manifest, not in the archive" for key in expected)
    return Verified(manifest=manifest, objects=objects, bytes=total, problems=problems)


# --- restore --------------------------------------------------------------------------


class Restored(BaseModel):
    tables: dict[str, int]
    objects: int = 0
    bytes: int = 0
    migrations_applied: list[int] = []
    problems: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [
            f"database: {sum(self.tables.values()):,} rows in {len(self.tables)} tables",
            f"objects: {self.objects:,} restored and checked ({self.bytes / 1e6:,.1f} MB)",
        ]
        if self.migrations_applied:
            lines.append(f"migrations applied after the restore: {self.migrations_applied}")
        lines += [f"MISMATCH: {p}" for p in self.problems[:20]]
        lines.append("OK" if self.ok else f"FAILED: {len(self.problems)} problems")
        return "\n".join(lines)


def occupied(conninfo: str, store: MediaStore, with_objects: bool) -> tuple[list[str], bool]:
    """Why the target is not empty (rows in any table but the migrations' own, or objects
    in the store the archive would fill), and whether it has tables at all."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        counts = table_counts(conn)
    full = {t: n for t, n in counts.items() if n and t != "schema_migrations"}
    reasons = []
    if full:
        reasons.append("rows in " + ", ".join(f"{t} ({n:,})" for t, n in full.items()))
    if with_objects:
        if isinstance(store, S3MediaStore):
            page = store.client.list_objects_v2(Bucket=store.bucket, MaxKeys=1)
            present = bool(page.get("Contents"))
        else:
            assert isinstance(store, LocalMediaStore)
            present = any(p.is_file() for p in store.root.rglob("*"))
        if present:
            reasons.append(f"media objects in the {store.name} store")
    return reasons, bool(counts)


def restore(
    settings: Settings, path: Path, *, force: bool = False, progress: bool = False
) -> Restored:
    """Restore the backup at `path` into the database and media store of `settings`.

    The archive is verified first, so a damaged one changes nothing. pg_restore runs in
    one transaction: a failure leaves the database as it was."""
    say(progress, f"verifying {path} ...")
    checked = verify(path, progress=progress)
    if not checked.ok or checked.manifest is None:
        raise RestoreFailed("the backup does not verify: " + "; ".join(checked.problems[:5]))
    manifest = checked.manifest
    newest = max(version for version, _ in migration_files())
    if manifest.schema_version > newest:
        raise RestoreRefused(
            f"the backup has schema version {manifest.schema_version}; this version of the"
            f" assistant knows up to {newest}: upgrade it first"
        )
    carried = [o for o in manifest.objects if o.in_archive]
    left = [o for o in manifest.objects if not o.in_archive]
    store = open_store(settings)
    if left and not isinstance(store, S3MediaStore):
        raise RestoreRefused(
            f"{len(left):,} objects of this backup are in bucket {manifest.bucket!r}, not in"
            " the archive: set BUCKET_NAME (and S3_ENDPOINT, keys) to restore with them"
        )
    conninfo = resolve_database_url(settings)
    embedded = settings.configured_database_url() is None
    pg_restore = find_tool("pg_restore", manifest.database.pg_dump_major, embedded=embedded)
    reasons, has_tables = occupied(conninfo, store, bool(carried))
    if reasons and not force:
        raise RestoreRefused(
            "the target is not empty (" + "; ".join(reasons) + "): restore refused;"
            " --force replaces the database and adds the objects"
        )
    work = private_dir(settings.data_dir, holds_database=True)
    with (
        tempfile.TemporaryDirectory(prefix=".restore-", dir=work) as tmp,
        tarfile.open(path, "r:") as tar,
    ):
        members, problems = archive_members(tar)
        if problems:  # the archive changed since it was verified
            raise RestoreFailed("; ".join(problems[:5]))
        dump = Path(tmp) / DUMP
        extract_checked(tar, members[DUMP], dump, manifest.database.sha256)
        dsn, env = without_password(conninfo)
        argv = [pg_restore, "--no-owner", "--no-privileges", "--single-transaction"]
        # --clean drops what the dump creates: the target's own tables, empty unless
        # --force (an app that started on it migrated it), would otherwise collide.
        if has_tables or force:
            argv += ["--clean", "--if-exists"]
        say(progress, "restoring the database ...")
        run_tool([*argv, "--exit-on-error", "--dbname", dsn, str(dump)], env)
        applied = migrate(conninfo)  # a backup of an older version, brought up to date
        for entry in bar(carried, "objects", progress):
            stream = tar.extractfile(members[MEDIA + entry.key])
            assert stream is not None
            data = stream.read()
            if hashlib.sha256(data).hexdigest() != entry.sha256:
                raise RestoreFailed(f"{entry.key}: changed since the backup was verified")
            kind = mimetypes.guess_type(entry.key)[0] or "application/octet-stream"
            store.put(safe_key(entry.key), data, kind)
    return check_restored(conninfo, store, manifest, applied, progress)


def extract_checked(tar: tarfile.TarFile, member: tarfile.TarInfo, out: Path, sha: str) -> None:
    source = tar.extractfile(member)
    assert source is not None
    digest = hashlib.sha256()
    with out.open("wb") as fh:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            fh.write(chunk)
    if digest.hexdigest() != sha:
        raise RestoreFailed("db.dump: changed since the backup was verified")


def check_restored(
    conninfo: str, store: MediaStore, manifest: Manifest, applied: list[int], progress: bool
) -> Restored:
    """Read back every object and count every table, against the manifest."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        counts = table_counts(conn)
    result = Restored(tables=counts, migrations_applied=applied)
    for table, rows in manifest.tables.items():
        if table == "schema_migrations" and applied:
            continue
        if counts.get(table) != rows:
            result.problems.append(f"table {table}: {counts.get(table)} rows, backup {rows}")
    for entry in bar(manifest.objects, "checking", progress):
        if entry.in_archive:
            try:
                data = store.get(entry.key)
            except FileNotFoundError:
                result.problems.append(f"{entry.key}: not in the store")
                continue
            result.objects += 1
            result.bytes += len(data)
            if hashlib.sha256(data).hexdigest() != entry.sha256:
                result.problems.append(f"{entry.key}: sha256 differs in the store")
        else:
            found = head(store, entry.key)
            if found is None or (found.etag, found.size) != (entry.etag, entry.size):
                result.problems.append(f"{entry.key}: not in the bucket as it was backed up")
    return result
