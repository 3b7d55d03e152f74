"""Migrations: applied once, safe to run twice and concurrently, on PG 16 and Debian's 15."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from assistant.config import ConfigError, Settings, load_settings
from assistant.db import Database, create_database, migrate, migration_files
from assistant.ops.sandbox import Sandbox
from tests.helpers.pg15 import debian_pg15
from tests.helpers.processes import ROOT, clean_env, free_port, postgres_under


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def test_migrations_apply_once_then_nothing(sandbox: Sandbox) -> None:
    url = create_database(sandbox.admin_url, "mig_twice")
    first = migrate(url)
    assert first == [v for v, _ in migration_files()]
    assert migrate(url) == []
    assert _versions(url) == first


def test_concurrent_migrations_serialise(sandbox: Sandbox) -> None:
    url = create_database(sandbox.admin_url, "mig_concurrent")
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(url))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    applied = [r for r in results if r]
    assert len(applied) == 1, "exactly one caller applies the migrations"
    assert _versions(url) == [v for v, _ in migration_files()]


def test_seed_views_expose_reference_column_names(services) -> None:  # type: ignore[no-untyped-def]
    from assistant.media import inspect_image
    from assistant.ops.samples import sample_image

    data = sample_image("x")
    img = services.catalog.store_image("+551100", data, inspect_image(data, 10**7))
    entry = services.catalog.create_entry("+551100", "Meu gato", [img.image.id])
    row = services.db.fetchone("SELECT descricao, from_number FROM table_descricao")
    assert row == {"descricao": "Meu gato", "from_number": "+551100"}
    link = services.db.fetchone("SELECT image_link, id_descricao FROM table_image_link")
    assert link == {"image_link": img.image.storage_key, "id_descricao": entry.id}


def test_unreachable_database_is_one_clear_line() -> None:
    with pytest.raises(ConfigError) as info:
        Database("postgresql://nobody@127.0.0.1:1/nothing")
    message = str(info.value)
    assert "DATABASE_URL" in message and "\n" not in message
    assert "127.0.0.1:1" in message


def test_bad_port_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="POSTGRES_DB_PORT"):
        load_settings(POSTGRES_DB_PORT="not-a-port")
    with pytest.raises(ConfigError, match="POSTGRES_DB_PORT"):
        load_settings(POSTGRES_DB_PORT="70000")


def test_seed_postgres_variables_build_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "POSTGRES_DB_HOST": "db.example",
        "POSTGRES_DB_PORT": "6543",
        "POSTGRES_DB_NAME": "bot",
        "POSTGRES_DB_USER": "me",
        "POSTGRES_DB_PASSWORD": "p@ss word",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.configured_database_url() == "postgresql://me:p%40ss%20word@db.example:6543/bot"
    monkeypatch.setenv("DATABASE_URL", "postgresql://x@y/z")
    assert Settings(_env_file=None).configured_database_url() == "postgresql://x@y/z"  # type: ignore[call-arg]


def test_debian_postgres_15_runs_migrations_and_search() -> None:
    with debian_pg15() as admin_url, Sandbox(admin_url=admin_url) as box:
        services = box.fresh()
        try:
            from assistant.media import inspect_image
            from assistant.ops.samples import sample_image

            data = sample_image("dogs")
            img = services.catalog.store_image("+5511", data, inspect_image(data, 10**7))
            services.catalog.create_entry("+5511", "Meus cães brincando na praia", [img.image.id])
            result = services.catalog.search("+5511", "mostre fotos de cao")
            assert [e.description for e in result.entries] == ["Meus cães brincando na praia"]
            assert services.db.scalar("SHOW server_version").startswith("15")
            # No pgvector here: search by meaning re-ranks with the plain computation.
            assert services.db.has_vector is False and services.semantic is not None
            for text in ("Recibo do mercado", "Bolo de aniversário"):
                data = sample_image(text)
                img = services.catalog.store_image("+5511", data, inspect_image(data, 10**7))
                services.catalog.create_entry("+5511", text, [img.image.id])
            assert services.semantic.index_missing() == 3
            found = services.catalog.search("+5511", "show me my dog").entries
            assert [e.description for e in found] == ["Meus cães brincando na praia"]
        finally:
            services.close()


def test_a_closed_sandbox_leaves_no_server_behind() -> None:
    """Its server is stopped by close(), not only at exit (Jupyter kernels skip exit hooks)."""
    box = Sandbox()
    services = box.fresh()
    assert services.db.scalar("SELECT 1") == 1
    root = box.root
    box.close()
    assert not root.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(box.admin_url, connect_timeout=2).close()


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "assistant", "evaluate", "search", "tests/data/search_dev.json"],
        ["-m", "assistant", "export", "--out", "EXPORT"],
    ],
)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_commands_stop_their_embedded_server_when_interrupted(
    command: list[str], sig: signal.Signals, tmp_path: Path
) -> None:
    """Regression: `timeout 25 python -m assistant evaluate ...` left a PostgreSQL server
    and its temporary folder behind; so did closing the terminal (SIGHUP)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    args = [a.replace("EXPORT", str(tmp_path / "export")) for a in command]
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=clean_env(TMPDIR=tmp, DATA_DIR=tmp_path / "data"),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    # Waits for the server to appear (or the command to end without one): on a loaded
    # machine a first start (initdb) took over a minute, so the deadline only stops a hang.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not postgres_under(tmp_path):
        time.sleep(0.2)
    assert postgres_under(tmp_path), (
        f"the command did not start its server (exit code {proc.poll()}):"
        f" {log.read_text(errors='replace')[-2000:]}"
    )
    # Signalled as soon as its server exists: the command cannot have finished by then (its
    # server still has to start, be tuned and migrated). Half a second later, as this test
    # once waited, `export` of an empty database was sometimes done already and exited 0.
    assert proc.poll() is None, "the command ended before it could be interrupted"
    proc.send_signal(sig)
    proc.wait(180)
    if sig != signal.SIGINT:  # (KeyboardInterrupt ends a process with SIGINT once handled)
        # An exit, with its exit handlers, not death by the signal (the watcher would
        # still stop the server then, but the command's own cleanup should do it first).
        assert proc.returncode == 128 + sig
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and postgres_under(tmp_path):
        time.sleep(0.2)
    assert postgres_under(tmp_path) == []
    assert [p.name for p in tmp.iterdir() if p.name.startswith("assistant-sandbox")] == []


@pytest.mark.parametrize(
    ("command", "ready", "exit_code"),
    [
        # At work: uvicorn's graceful shutdown, then exit 0.
        ([str(ROOT / "webhook.py")], "Uvicorn running", 0),
        # Workers started: they finish the messages in hand, then exit 0.
        (["-m", "assistant", "worker"], "running 2 threads", 0),
        # While filling: exit handlers run (SystemExit(128 + SIGHUP)).
        (["-m", "assistant", "demo-data", "--users", "50", "--entries", "5000"], "", 128 + 1),
    ],
    ids=["webhook", "worker", "demo-data"],
)
def test_a_closed_terminal_stops_the_embedded_server(
    command: list[str], ready: str, exit_code: int, tmp_path: Path
) -> None:
    """Regression: closing the terminal (SIGHUP) of `python webhook.py`, `assistant worker`
    or `assistant demo-data` left their embedded PostgreSQL running."""
    log = tmp_path / "out.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, *command],
            cwd=tmp_path,
            env=clean_env(DATA_DIR=tmp_path / "data", PORT=free_port(), TMPDIR=tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (
            postgres_under(tmp_path) and ready in log.read_text(errors="replace")
        ):
            time.sleep(0.2)
        assert postgres_under(tmp_path), "the command did not start its server"
        assert ready in log.read_text(errors="replace")
        time.sleep(1 if ready else 3)
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(60) == exit_code, log.read_text(errors="replace")[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and postgres_under(tmp_path):
        time.sleep(0.2)
    assert postgres_under(tmp_path) == []


def test_a_long_tmpdir_still_leaves_room_for_the_servers_socket(tmp_path: Path) -> None:
    """Regression: with TMPDIR long (a test runner's, macOS's /var/folders/...) the data
    folder and pgserver's runtime folder were both too long for a Unix socket's path and
    the embedded server never started ("Could not find a suitable socket path")."""
    from assistant.db.embedded import _short_socket_folder

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    short_enough = type("Server", (), {"runtime_path": tmp_path / "run"})
    _short_socket_folder(short_enough, deep / "pgdata", base=tmp_path)
    assert short_enough.runtime_path == tmp_path / "run"  # its own place fits: untouched

    too_long = type("Server", (), {"runtime_path": deep / "runtime"})
    _short_socket_folder(too_long, deep / "pgdata", base=tmp_path)
    chosen = too_long.runtime_path
    assert chosen.parent == tmp_path and chosen.stat().st_mode & 0o777 == 0o700
    assert len(str(chosen / "0123456789" / ".s.PGSQL.5432")) < 104

    # A folder of that name that others may write in is refused, not used.
    chosen.chmod(0o777)
    again = type("Server", (), {"runtime_path": deep / "runtime"})
    with pytest.raises(RuntimeError, match="not a private directory"):
        _short_socket_folder(again, deep / "pgdata", base=tmp_path)
