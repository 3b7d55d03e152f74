"""Backups and restores (issue #24): `assistant backup`, `backup verify`, `restore`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from assistant import cli
from assistant.config import ConfigError, Settings, get_settings
from assistant.db import migration_files
from assistant.factory import Services, build_services
from assistant.media import inspect_image
from assistant.ops import backup as backup_module
from assistant.ops.backup import UnsafeName, backup, safe_key, table_counts
from assistant.ops.demo import fill
from assistant.ops.pgtools import find_tool, tool_major
from assistant.ops.restore import RestoreFailed, RestoreRefused, restore, verify
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from tests.helpers.catalog import save_entry
from tests.helpers.s3 import s3_env

QUERIES = ["cachorro", "recibo", "praia", "bolo", "carro"]


def counts(settings: Settings) -> dict[str, int]:
    with psycopg.connect(str(settings.database_url), autocommit=True) as conn:
        return table_counts(conn)


def media(settings: Settings) -> dict[str, str]:
    """Every object of a local store by key, with its sha256."""
    root = settings.media_dir
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def searches(services: Services) -> list[Any]:
    owners = [r["owner"] for r in services.db.fetchall("SELECT DISTINCT owner FROM descriptions")]
    return [
        (owner, query, [(e.id, e.description, [i.storage_key for i in e.images]) for e in found])
        for owner in sorted(owners)
        for query in QUERIES
        for found in [services.catalog.search(owner, query, limit=10).entries]
    ]


def consistency(settings: Settings) -> tuple[list[str], int]:
    """Keys of image rows with no object in the store, and entries with no image."""
    with psycopg.connect(str(settings.database_url), autocommit=True) as conn:
        keys = conn.execute(
            "SELECT storage_key FROM images UNION SELECT thumb_key FROM images"
            " WHERE thumb_key IS NOT NULL"
        ).fetchall()
        bare = conn.execute(
            "SELECT count(*) FROM descriptions d"
            " WHERE NOT EXISTS (SELECT 1 FROM images WHERE description_id = d.id)"
        ).fetchone()
    assert bare is not None
    return [k for (k,) in keys if not (settings.media_dir / k).is_file()], int(bare[0])


@pytest.fixture
def demo(sandbox: Sandbox) -> Iterator[Services]:
    """A catalog filled through the assistant (`assistant demo-data`, small)."""
    services = sandbox.fresh()
    fill(services, users=3, entries=24, seed=3, progress=False)
    yield services
    services.close()


@pytest.fixture
def archive(demo: Services, tmp_path: Path) -> Path:
    path = tmp_path / "backup.tar"
    backup(demo.settings, path)
    return path


def test_round_trip_restores_rows_objects_and_searches(
    demo: Services, archive: Path, sandbox: Sandbox
) -> None:
    assert archive.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in archive.parent.iterdir()] == ["backup.tar"]  # no temporary left
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    original = counts(demo.settings)
    assert manifest["tables"] == original and original["images"] > 0
    assert manifest["schema_version"] == max(v for v, _ in migration_files())
    stored = media(demo.settings)
    assert {o["key"]: o["sha256"] for o in manifest["objects"]} == stored
    assert sorted(names) == sorted(["manifest.json", "db.dump", *(f"media/{k}" for k in stored)])
    with tarfile.open(archive) as tar:
        dump = tar.extractfile("db.dump").read()  # type: ignore[union-attr]
    assert hashlib.sha256(dump).hexdigest() == manifest["database"]["sha256"]
    assert verify(archive).ok

    target = sandbox.settings()  # a fresh database, an empty data directory
    result = restore(target, archive)
    assert result.ok, result.problems
    assert counts(target) == original
    assert media(target) == stored
    assert consistency(target) == ([], 0)
    restored = build_services(target)
    try:
        assert searches(restored) == searches(demo)
        assert any(found for _, _, found in searches(restored))
    finally:
        restored.close()


def flip_byte(path: Path, member: str) -> None:
    """Change one byte in the middle of a member's data, in place."""
    with tarfile.open(path) as tar:
        info = tar.getmember(member)
    with path.open("r+b") as fh:
        fh.seek(info.offset_data + info.size // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))


def test_verify_detects_a_tampered_object_and_a_tampered_dump(
    archive: Path, tmp_path: Path, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    with tarfile.open(archive) as tar:
        obj = next(n for n in tar.getnames() if n.startswith("media/"))
    for member in (obj, "db.dump"):
        copy = tmp_path / f"tampered-{member.replace('/', '_')}.tar"
        copy.write_bytes(archive.read_bytes())
        flip_byte(copy, member)
        result = verify(copy)
        assert not result.ok
        assert result.problems == [
            f"{member.removeprefix('media/')}: sha256 or size differs from the manifest"
        ]
        assert cli.main(["backup", "verify", str(copy)]) == 1
        assert "FAILED: 1 problems" in capsys.readouterr().out
        target = sandbox.settings()
        with pytest.raises(RestoreFailed, match="does not verify"):
            restore(target, copy)
        assert counts(target)["descriptions"] == 0 and media(target) == {}
    assert cli.main(["backup", "verify", str(archive)]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")


def test_restore_refuses_a_target_that_is_not_empty(
    demo: Services, archive: Path, sandbox: Sandbox
) -> None:
    with pytest.raises(RestoreRefused, match=r"not empty \(rows in .*descriptions"):
        restore(demo.settings, archive)
    only_media = sandbox.settings()
    (only_media.media_dir / "x").mkdir(parents=True)
    (only_media.media_dir / "x" / "left.jpg").write_bytes(b"old")
    with pytest.raises(RestoreRefused, match="media objects in the local store"):
        restore(only_media, archive)
    assert counts(only_media)["descriptions"] == 0

    other = sandbox.fresh()
    try:
        save_entry(other, "+5511900000999", "something else entirely")
        with pytest.raises(RestoreRefused):
            restore(other.settings, archive)
        result = restore(other.settings, archive, force=True)  # replaces the database
        assert result.ok, result.problems
        assert counts(other.settings) == counts(demo.settings)
        assert set(media(demo.settings)) <= set(media(other.settings))
    finally:
        other.close()


def with_member(archive: Path, out: Path, info: tarfile.TarInfo, data: bytes = b"x") -> Path:
    out.write_bytes(archive.read_bytes())
    with tarfile.open(out, "a") as tar:
        info.size = len(data) if info.isreg() else 0
        tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out


@pytest.mark.parametrize("bad", ["../x", "/x", "a/../../x", "a//b", "./x", "a\\..\\x", ""])
def test_unsafe_keys_are_refused(bad: str) -> None:
    with pytest.raises(UnsafeName):
        safe_key(bad)


def test_archives_with_unsafe_names_are_refused(
    archive: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    escape = tarfile.TarInfo("media/../../escaped.txt")
    absolute = tarfile.TarInfo(str(tmp_path / "absolute.txt"))
    link = tarfile.TarInfo("media/images/link.jpg")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    for i, info in enumerate([escape, absolute, link]):
        bad = with_member(archive, tmp_path / f"bad{i}.tar", info)
        result = verify(bad)
        assert not result.ok
        assert "unsafe name" in result.problems[0] or "not a regular file" in result.problems[0]
        target = sandbox.settings()
        with pytest.raises(RestoreFailed):
            restore(target, bad)
        assert media(target) == {}
    # The manifest is not trusted either: a key climbing out of the media directory.
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    manifest["objects"][0]["key"] = "../../escaped.txt"
    body = json.dumps(manifest).encode()
    forged = tmp_path / "forged.tar"
    with tarfile.open(archive) as src, tarfile.open(forged, "w") as dst:
        for member in src.getmembers():
            if member.name == "manifest.json":
                member.size = len(body)
                dst.addfile(member, io.BytesIO(body))
            else:
                dst.addfile(member, src.extractfile(member))
    result = verify(forged)
    assert result.manifest is None and "manifest.json unreadable" in result.problems[-1]
    assert not list(tmp_path.parent.glob("escaped.txt"))
    assert not (tmp_path / "absolute.txt").exists()


def test_a_backup_while_photos_keep_arriving_restores_consistently(
    services: Services, sandbox: Sandbox, tmp_path: Path
) -> None:
    owner = "+5511911110000"
    for i in range(10):
        save_entry(services, owner, f"foto inicial {i}")
    stop = threading.Event()
    stored: list[int] = []
    errors: list[BaseException] = []

    def arrive() -> None:
        n = 0
        try:
            while not stop.is_set():
                data = sample_image(f"chegando {n}")
                img = services.catalog.store_image(owner, data, inspect_image(data, 10**7))
                entry = services.catalog.create_entry(owner, f"chegando {n}", [img.image.id])
                stored.append(entry.id)
                if n % 3 == 2:  # deletions too: the sweep removes objects meanwhile
                    services.catalog.delete_entry(owner, stored.pop(0))
                n += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=arrive)
    thread.start()
    try:
        while len(stored) < 5:
            stop.wait(0.05)
        manifest = backup(services.settings, tmp_path / "live.tar")
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert manifest.tables["descriptions"] >= 10
    target = sandbox.settings()
    result = restore(target, tmp_path / "live.tar")
    assert result.ok, result.problems
    assert consistency(target) == ([], 0)
    assert counts(target)["images"] == manifest.tables["images"]


def test_an_object_swept_after_the_dump_means_another_dump(
    services: Services, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = "+5511922220000"
    ids = [save_entry(services, owner, f"recibo {i}") for i in range(4)]
    real = backup_module.dump_database
    calls: list[int] = []

    def dump_then_delete(*args: Any) -> Any:
        snapshot = real(*args)
        if not calls:  # a user deletes an entry between the dump and the copy
            services.catalog.delete_entry(owner, ids[0])  # and its sweep runs at once
        calls.append(1)
        return snapshot

    monkeypatch.setattr(backup_module, "dump_database", dump_then_delete)
    manifest = backup(services.settings, tmp_path / "b.tar")
    assert manifest.attempts == 2 and manifest.missing == []
    assert manifest.tables["descriptions"] == 3
    target = sandbox.settings()
    assert restore(target, tmp_path / "b.tar").ok
    assert consistency(target) == ([], 0)


def test_s3_objects_stay_in_the_bucket_unless_asked(
    s3: Services, sandbox: Sandbox, moto_url: str, tmp_path: Path
) -> None:
    save_entry(s3, "+5511933330000", "conta de luz")
    kept = backup(s3.settings, tmp_path / "listed.tar")
    assert kept.objects and all(not o.in_archive and o.etag and o.size for o in kept.objects)
    with tarfile.open(tmp_path / "listed.tar") as tar:
        assert sorted(tar.getnames()) == ["db.dump", "manifest.json"]
    full = backup(s3.settings, tmp_path / "full.tar", with_media=True)
    assert all(o.in_archive and o.sha256 and o.etag for o in full.objects)
    assert verify(tmp_path / "full.tar").objects == len(full.objects)
    # Objects left in the bucket: a restore checks they are there as they were.
    target = sandbox.settings(**s3_env(moto_url))
    assert restore(target, tmp_path / "listed.tar").ok
    with pytest.raises(RestoreRefused, match="in bucket"):
        restore(sandbox.settings(), tmp_path / "listed.tar")


def test_client_tools_of_the_right_version_or_one_line_saying_what_to_install(
    tmp_path: Path,
) -> None:
    found = find_tool("pg_dump", 16, embedded=False)
    assert (tool_major(found) or 0) >= 16  # the system's 15 is too old: pgserver's then
    with pytest.raises(ConfigError) as caught:
        find_tool("pg_dump", 99, embedded=False, bundled=tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "apt-get install postgresql-client-99" in message


def test_the_commands(
    demo: Services,
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for key in list(os.environ):
        if key.startswith(("DATABASE_", "POSTGRES_", "BUCKET_", "OPENAI_")):
            monkeypatch.delenv(key)
    umask = os.umask(0o022)
    os.umask(umask)

    def run(settings: Settings, *args: str) -> int:
        monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
        monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
        get_settings.cache_clear()
        try:
            return cli.main(list(args))
        finally:
            os.umask(umask)  # main() makes the process's files private
            get_settings.cache_clear()

    out = tmp_path / "cli.tar"
    assert run(demo.settings, "backup", "--out", str(out)) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["rows"] == sum(counts(demo.settings).values()) and summary["objects"] > 0
    assert "objects" in captured.err  # progress
    assert run(demo.settings, "backup", "verify", str(out)) == 0
    target = sandbox.settings()
    assert run(target, "restore", str(out)) == 0
    assert capsys.readouterr().out.strip().endswith("OK")
    assert run(target, "restore", str(out)) == 2  # no longer empty
    assert "not empty" in capsys.readouterr().err
    assert run(target, "restore", "--force", str(out)) == 0
    assert counts(target) == counts(demo.settings)
