"""Worker processes sharing one database: crashes, concurrency, exactly-once, order."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from assistant.brains.base import BrainReply, Turn
from assistant.brains.offline import OfflineBrain
from assistant.factory import Services
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from assistant.tools import Toolbox
from assistant.worker import WorkerPool
from tests.fakes.twilio_server import FakeTwilio, MediaItem
from tests.helpers.processes import clean_env
from tests.helpers.web import app_client
from tests.helpers.whatsapp import PUBLIC, sign, twilio_env, webhook_form

ROOT = Path(__file__).resolve().parent.parent


class Workers:
    """`python -m assistant.worker` processes on the test's database."""

    def __init__(self, env: dict[str, str], logdir: Path):
        self.env = env
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, threads: int = 2) -> subprocess.Popen[bytes]:
        log = open(self.logdir / f"worker-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "worker", "--threads", str(threads)],
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


class SlowBrain(OfflineBrain):
    """A model call that takes longer than the lease."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.calls = 0
        self.lock = threading.Lock()

    def respond(self, turn: Turn, tools: Toolbox) -> BrainReply:
        with self.lock:
            self.calls += 1
        time.sleep(self.seconds)
        return super().respond(turn, tools)


def test_a_message_slower_than_the_lease_is_processed_once(
    sandbox: Sandbox, fake: FakeTwilio
) -> None:
    """Regression: the lease was never renewed, so a model call slower than it was taken
    over again and again (12 attempts with INBOX_MAX_ATTEMPTS=5, no reply ever sent)."""
    services = sandbox.fresh(**twilio_env(fake, INBOX_LEASE_SECONDS=1, INBOX_MAX_ATTEMPTS=5))
    brain = SlowBrain(3.5)
    services.assistant.brain = brain
    alice = "+5511955550011"
    enqueue(app_client(services), fake.auth_token, webhook_form(alice, "ajuda"))
    pool = WorkerPool(services, 3).start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if services.db.scalar("SELECT status FROM inbox") == "done" and fake.sends_to(
                f"whatsapp:{alice}"
            ):
                break
            time.sleep(0.1)
        time.sleep(1.5)  # a second processing would show up here
    finally:
        pool.stop()
    assert brain.calls == 1
    assert services.db.fetchone("SELECT status, attempts FROM inbox") == {
        "status": "done",
        "attempts": 1,
    }
    assert len(fake.sends_to(f"whatsapp:{alice}")) == 1


def test_a_message_that_kills_its_worker_is_parked_with_one_apology(
    sandbox: Sandbox, fake: FakeTwilio, tmp_path: Path
) -> None:
    """Attempts are counted when a message is claimed: a message whose worker dies every
    time (so `fail` is never called) is parked after INBOX_MAX_ATTEMPTS, and the user's
    next message is answered."""
    settings = dict(INBOX_LEASE_SECONDS=1, INBOX_MAX_ATTEMPTS=3)
    services = sandbox.fresh(**twilio_env(fake, **settings))
    client = app_client(services)
    alice = "+5511955550012"
    enqueue(client, fake.auth_token, webhook_form(alice, "boom"))
    enqueue(client, fake.auth_token, webhook_form(alice, "ajuda"))
    env = env_for(services, fake, **settings)
    deaths = 0
    logs = tmp_path / "crashing.log"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with logs.open("ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "tests.helpers.crashing_worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                proc.wait(timeout=8)
                deaths += 1
            except subprocess.TimeoutExpired:  # it stopped dying: the message was parked
                break
        for _ in range(100):
            if len(fake.sends_to(f"whatsapp:{alice}")) >= 2:
                break
            time.sleep(0.1)
        time.sleep(1)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
    rows = services.db.fetchall(
        "SELECT payload->>'text' AS text, status, attempts FROM inbox ORDER BY id"
    )
    assert rows[0] == {"text": "boom", "status": "dead", "attempts": 4}, logs.read_text()[-3000:]
    assert rows[1]["status"] == "done"
    assert deaths == 3
    bodies = [s["Body"] for s in fake.sends_to(f"whatsapp:{alice}")]
    assert len(bodies) == 2
    assert "problema" in bodies[0]  # the apology, once
    assert "descrição" in bodies[1]
