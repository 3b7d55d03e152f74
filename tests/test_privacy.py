"""Users' data is private to the account that runs the assistant: the data directory,
the media store and Gradio's copies of photos are 0700 directories of 0600 files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.factory import Services
from assistant.ops.sandbox import Sandbox
from tests.helpers.catalog import save_entry
from tests.helpers.web import app_client

ALICE = "+5511911110001"


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual umask (0022), so modes come from the code, not from the test runner."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_stored_photo_is_private(loose_umask: None, sandbox: Sandbox) -> None:
    services = sandbox.fresh()
    try:
        save_entry(services, ALICE, "Recibo do mercado")
        data_dir = services.settings.data_dir
        media = services.settings.media_dir
        files = [p for p in media.rglob("*") if p.is_file()]
        assert files  # the photo and its thumbnail
        assert mode(data_dir) == 0o700 and mode(media) == 0o700
        for path in media.rglob("*"):
            assert mode(path) == (0o700 if path.is_dir() else 0o600), path
        assert mode(data_dir / "secret.key") == 0o600
    finally:
        services.close()


def test_existing_directories_are_made_private_at_start(
    loose_umask: None, sandbox: Sandbox
) -> None:
    settings = sandbox.settings()
    for folder in (settings.data_dir, settings.media_dir, settings.spool_dir):
        folder.mkdir(parents=True, mode=0o755)
        folder.chmod(0o755)  # as earlier versions left them
    services = sandbox.fresh(DATA_DIR=settings.data_dir)
    try:
        app_client(services)
        # DATA_DIR keeps only the traverse bit, as root: pgserver's own user must pass
        # through it to the database (see the last test); nobody else may list it.
        assert mode(settings.data_dir) == (0o711 if os.geteuid() == 0 else 0o700)
        for folder in (settings.media_dir, settings.spool_dir):
            assert mode(folder) == 0o700, folder
    finally:
        services.close()


def _gradio_upload_dir(services: Services) -> Path:
    from starlette.routing import Mount

    app = app_client(services, ui=True).app
    mounts = [r for r in app.routes if isinstance(r, Mount) and r.path == "/ui"]
    return Path(mounts[0].app.uploaded_file_dir)


def test_gradio_keeps_its_copies_under_the_data_dir(
    loose_umask: None, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADIO_TEMP_DIR", "restored at teardown")
    monkeypatch.delenv("GRADIO_TEMP_DIR")
    upload_dir = _gradio_upload_dir(services)
    data_dir = services.settings.data_dir.resolve()
    assert upload_dir.is_relative_to(data_dir) and upload_dir != Path("/tmp/gradio")
    assert Path(os.environ["GRADIO_TEMP_DIR"]) == upload_dir
    assert mode(upload_dir) == 0o700 and mode(data_dir) == 0o700


def test_an_explicit_gradio_temp_dir_is_respected(
    services: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chosen = tmp_path / "gradio-here"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(chosen))
    assert _gradio_upload_dir(services) == chosen


def test_a_folder_the_embedded_database_must_pass_through_stays_traversable(
    tmp_path: Path,
) -> None:
    """As root, pgserver's own system user must pass through DATA_DIR to reach DATA_DIR/pg:
    making it 0700 broke pg_ctl (a failed restart, a server killed at exit)."""
    import os

    from assistant.media.local import private_dir
    from tests.helpers.processes import run_assistant

    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o711)  # what pgserver leaves on the folders above its database
    private_dir(folder, holds_database=True)
    expected = 0o711 if os.geteuid() == 0 else 0o700
    assert folder.stat().st_mode & 0o777 == expected
    os.chmod(folder, 0o755)
    private_dir(folder, holds_database=True)  # never readable or writable by others
    assert folder.stat().st_mode & 0o777 == expected
    private_dir(folder)  # any other folder: 0700
    assert folder.stat().st_mode & 0o777 == 0o700
    # End to end: a command on an embedded database stops it cleanly (no kill).
    data = tmp_path / "cmd"
    env = {**os.environ, "DATA_DIR": str(data), "PYTHONPATH": str(Path(__file__).parents[1])}
    for key in [k for k in env if k.startswith(("DATABASE_URL", "POSTGRES_DB"))]:
        env.pop(key)
    done = run_assistant(tmp_path, "demo-data", "--users", "1", "--entries", "2", env=env)
    assert "killing it instead" not in done.stderr
    assert "Permission denied" not in done.stderr
