"""Worker processes sharing one database: crashes, concurrency, exactly-once, order."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.factory import Services
from assistant.samples import sample_image
from assistant.sandbox import Sandbox
from tests.fakes.twilio_server import FakeTwilio, MediaItem
from tests.helpers.web import app_client
from tests.processes import clean_env
from tests.whatsapp_helpers import PUBLIC, sign, twilio_env, webhook_form

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    server = FakeTwilio().start()
    yield server
    server.stop()


class Workers:
    """`python -m assistant.worker` processes on the test's database."""

    def __init__(self, env: dict[str, str], logdir: Path):
        self.env = env
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, threads: int = 2) -> subprocess.Popen[bytes]:
        log = open(self.logdir / f"worker-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.worker", "--threads", str(threads)],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logdir.glob("*.log")))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def env_for(services: Services, fake: FakeTwilio, **extra: Any) -> dict[str, str]:
    settings = services.settings
    return clean_env(
        **twilio_env(
            fake, DATABASE_URL=settings.database_url, DATA_DIR=str(settings.data_dir), **extra
        )
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str, logs: Workers) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{logs.logs()[-4000:]}")


def enqueue(client: TestClient, token: str, form: dict[str, str]) -> None:
    signature = sign(token, f"{PUBLIC}/whatsapp", form)
    response = client.post("/whatsapp", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200


def test_a_worker_killed_mid_message_leaves_it_to_another(
    sandbox: Sandbox, fake: FakeTwilio, tmp_path: Path
) -> None:
    services = sandbox.fresh(**twilio_env(fake, INBOX_LEASE_SECONDS=3))
    client = app_client(services)
    alice = "+5511955550001"
    downloading = fake.media_requested
    release = threading.Event()
    item = MediaItem(sample_image("gato no sofá"), "image/jpeg", redirect=False, hold=release)
    url = fake.add_media(item)
    enqueue(client, fake.auth_token, webhook_form(alice, "Meu gato no sofá", [(url, "image/jpeg")]))

    workers = Workers(env_for(services, fake, INBOX_LEASE_SECONDS=3), tmp_path)
    try:
        first = workers.start(threads=1)
        assert downloading.wait(30), workers.logs()
        # The first worker is inside the message (claimed, user row touched, downloading).
        assert services.db.scalar("SELECT status FROM inbox") == "processing"
        first.kill()
        first.wait(10)
        release.set()
        workers.start(threads=1)
        wait_for(
            lambda: services.db.scalar("SELECT status FROM inbox") == "done",
            60,
            "the message to be handled by the second worker",
            workers,
        )
        wait_for(lambda: len(fake.sends_to(f"whatsapp:{alice}")) >= 1, 30, "the reply", workers)
        time.sleep(1)  # anything sent twice would show up here
    finally:
        workers.stop()
    (reply,) = fake.sends_to(f"whatsapp:{alice}")
    assert "Foto salva" in reply["Body"]
    row = services.db.fetchone("SELECT attempts, worker FROM inbox")
    assert row is not None and row["attempts"] == 2
    assert services.catalog.count_entries(alice) == 1
    assert services.db.scalar("SELECT count(*) FROM messages WHERE direction = 'in'") == 1


def test_two_worker_processes_handle_500_messages_once_in_order(
    sandbox: Sandbox, fake: FakeTwilio, tmp_path: Path
) -> None:
    services = sandbox.fresh(**twilio_env(fake))
    client = app_client(services)
    users = [f"+55119777{i:05d}" for i in range(50)]
    for n in range(10):
        for user in users:
            enqueue(client, fake.auth_token, webhook_form(user, f"nota {n} de {user}"))
    assert services.db.scalar("SELECT count(*) FROM inbox") == 500

    workers = Workers(env_for(services, fake), tmp_path)
    try:
        workers.start(threads=2)
        workers.start(threads=2)
        wait_for(
            lambda: services.db.scalar("SELECT count(*) FROM outbox WHERE status = 'sent'") == 500,
            240,
            "500 replies",
            workers,
        )
    finally:
        workers.stop()

    assert services.db.scalar("SELECT count(*) FROM inbox WHERE status = 'done'") == 500
    inbound = services.db.fetchall(
        "SELECT owner, body, external_id FROM messages WHERE direction = 'in' ORDER BY id"
    )
    assert len(inbound) == 500
    assert len({r["external_id"] for r in inbound}) == 500
    for user in users:
        texts = [r["body"] for r in inbound if r["owner"] == user]
        assert texts == [f"nota {n} de {user}" for n in range(10)], user
        assert len(fake.sends_to(f"whatsapp:{user}")) == 10
    assert len(fake.recorded.sends) == 500
    processes = {
        w.split(":")[1]
        for w in [r["worker"] for r in services.db.fetchall("SELECT DISTINCT worker FROM inbox")]
    }
    assert len(processes) == 2, "both processes took part"
