"""The project as users install and deploy it: a built wheel outside the source tree, the
`assistant` command, and several web processes under uvicorn with a separate worker."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.db import migration_files
from assistant.ops.sandbox import Sandbox
from tests.fakes.twilio_server import FakeTwilio
from tests.helpers.processes import ROOT, clean_env, web_and_worker
from tests.helpers.whatsapp import PUBLIC, sign, twilio_env, webhook_form


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the source tree with the project's wheel (its dependencies come from
    this environment's site-packages, linked by a .pth file: nothing is downloaded)."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", root / "dist"],
        check=True,
        cwd=root,
    )
    (wheel,) = (root / "dist").glob("*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], check=True
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_wheel_migrates_and_answers_a_message(installed_wheel: Path, tmp_path: Path) -> None:
    """Regression: the wheel had no migrations (they were read from the source tree), so
    an installed copy silently applied none."""
    env = {k: v for k, v in clean_env(DATA_DIR=tmp_path / "data").items() if k != "PYTHONPATH"}

    def run(program: str, *args: str) -> str:
        """A program of the installed venv, run outside the source tree."""
        done = subprocess.run(
            [installed_wheel / "bin" / program, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    where = run("python", "-c", "import assistant; print(assistant.__file__)")
    assert str(installed_wheel) in where and str(ROOT) not in where
    every = [version for version, _ in migration_files(ROOT / "sql")]
    assert json.loads(run("assistant", "migrate")) == {"applied": every}
    answer = run(
        "python",
        "-c",
        "from assistant.config import load_settings\n"
        "from assistant.factory import build_services\n"
        "from assistant.models import InboundMessage\n"
        "s = build_services(load_settings())\n"
        "r = s.assistant.handle(InboundMessage(sender='+5511911112222', text='ajuda'))\n"
        "print(r[0].text)\n"
        "s.close()\n",
    )
    assert "descrição" in answer


def test_the_cli_explains_itself() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "assistant", "--help"],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("run", "worker", "migrate", "export", "import-legacy", "evaluate"):
        assert command in out


@pytest.fixture
def production(
    sandbox: Sandbox, fake: FakeTwilio, tmp_path: Path
) -> Iterator[tuple[str, FakeTwilio, Path]]:
    """`uvicorn webhook:app --workers 2` (web only) plus `assistant worker`, against one
    PostgreSQL, the way the README's production section runs them."""
    _, url = sandbox.new_database()
    env = clean_env(
        **twilio_env(fake, DATABASE_URL=url, DATA_DIR=tmp_path / "data", WORKER_THREADS=0)
    )
    with web_and_worker(tmp_path, env, worker_threads=2) as base:
        yield base, fake, tmp_path


def test_two_web_processes_and_a_worker_answer_every_message_once(
    production: tuple[str, FakeTwilio, Path],
) -> None:
    base, fake, tmp_path = production
    users = [f"+55119444{i:05d}" for i in range(10)]
    with httpx.Client(base_url=base) as client:
        for n in range(6):
            for user in users:
                form = webhook_form(user, f"nota {n}")
                signature = sign(fake.auth_token, f"{PUBLIC}/whatsapp", form)
                response = client.post(
                    "/whatsapp", data=form, headers={"X-Twilio-Signature": signature}
                )
                assert response.status_code == 200
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(fake.recorded.sends) < 60:
        time.sleep(0.2)
    time.sleep(1)  # a duplicate would show up here
    log = (tmp_path / "web.log").read_text()
    assert len(fake.recorded.sends) == 60, log[-3000:]
    for user in users:
        assert len(fake.sends_to(f"whatsapp:{user}")) == 6
    # Both uvicorn worker processes started the app (built lazily in each).
    assert log.count("Application startup complete") >= 2, log[-3000:]
