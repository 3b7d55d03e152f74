"""`GET /metrics`: Prometheus' text format, read back with prometheus_client's own parser,
with values that move when messages flow; who may scrape it; several processes added up.

The metrics of one process are global (prometheus_client keeps them per process), so the
tests read how much a value moved, never its absolute level; the database gauges belong
to each test's own database and are read as they are.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from assistant import metrics
from assistant.config import Settings
from assistant.factory import Services
from assistant.ops.samples import sample_image, speak
from assistant.ops.sandbox import Sandbox
from tests.fakes.twilio_server import FakeTwilio
from tests.helpers.catalog import save_entry, send
from tests.helpers.documents import PADARIA
from tests.helpers.processes import clean_env, web_and_worker
from tests.helpers.web import app_client
from tests.helpers.whatsapp import PUBLIC, drain, post_signed, sign, twilio_env, webhook_form

ALICE = "+5511966660001"
ADMIN = {"Authorization": "Bearer admin-secret-for-tests"}  # twilio_env's ADMIN_TOKEN

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels (prometheus_client's own parser)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for a labelled series that has not appeared yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(client: TestClient | httpx.Client, headers: dict[str, str] = ADMIN) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


# --- values that move when messages flow ------------------------------------------------


def test_a_message_moves_the_webhook_worker_search_and_queue_metrics(
    wa: Services, fake: FakeTwilio
) -> None:
    client = app_client(wa)
    whatsapp = {"route": "/whatsapp"}
    before = scrape(client)
    assert value(before, "database_up") == 1
    # The sandbox's server is given by DATABASE_URL: external, as far as the app knows.
    assert value(before, "database_info", kind="external") == 1
    assert value(before, "inbox_depth", state="pending") == 0

    assert (
        post_signed(
            client, fake.auth_token, webhook_form(ALICE, "Mostre fotos de cachorro")
        ).status_code
        == 200
    )
    queued = scrape(client)
    assert moved(before, queued, "webhook_requests_total", status="200", **whatsapp) == 1
    assert moved(before, queued, "webhook_ack_seconds_count", **whatsapp) == 1
    assert value(queued, "webhook_ack_seconds_sum", **whatsapp) > value(
        before, "webhook_ack_seconds_sum", **whatsapp
    )
    assert value(queued, "inbox_depth", state="pending") == 1
    assert moved(before, queued, "message_processing_seconds_count", outcome="done") == 0

    drain(wa)
    done = scrape(client)
    assert moved(queued, done, "message_processing_seconds_count", outcome="done") == 1
    assert moved(queued, done, "search_seconds_count") == 1
    assert moved(queued, done, "search_empty_total") == 1  # nothing saved yet
    assert moved(queued, done, "messages_sent_total") == len(fake.sends_to(f"whatsapp:{ALICE}"))
    assert moved(queued, done, "send_failures_total", reason="refused") == 0
    for state in ("pending", "processing", "dead"):
        assert value(done, "inbox_depth", state=state) == 0
    for state in ("pending", "sending", "failed", "uncertain"):
        assert value(done, "outbox_depth", state=state) == 0
    assert value(done, "dead_letters", queue="inbox") == 0

    # A search that finds something is timed, not counted as empty.
    save_entry(wa, ALICE, "Meu cachorro no parque", sample_image("dog"))
    assert post_signed(
        client, fake.auth_token, webhook_form(ALICE, "Mostre fotos de cachorro")
    ).is_success
    drain(wa)
    found = scrape(client)
    assert moved(done, found, "search_seconds_count") == 1
    assert moved(done, found, "search_empty_total") == 0

    # Refused webhooks are counted under their status.
    form = webhook_form(ALICE, "oi")
    bad = client.post("/whatsapp", data=form, headers={"X-Twilio-Signature": "forged"})
    assert bad.status_code == 403
    status = client.post(
        "/twilio/status",
        data=(callback := {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}),
        headers={"X-Twilio-Signature": sign(fake.auth_token, f"{PUBLIC}/twilio/status", callback)},
    )
    assert status.status_code == 204
    last = scrape(client)
    assert moved(found, last, "webhook_requests_total", status="403", **whatsapp) == 1
    assert moved(found, last, "webhook_requests_total", route="/twilio/status", status="204") == 1
    assert moved(found, last, "webhook_ack_seconds_count", route="/twilio/status") == 1
    # The scrapes themselves are not webhook requests.
    assert moved(found, last, "webhook_requests_total", status="200", **whatsapp) == 0


def test_send_failures_and_dead_letters(wa: Services, fake: FakeTwilio) -> None:
    client = app_client(wa)
    before = scrape(client)
    fake.send_failures = [429, 400]  # tried again after the 429, refused at the 400
    assert post_signed(client, fake.auth_token, webhook_form(ALICE, "oi")).is_success
    drain(wa)
    after = scrape(client)
    assert moved(before, after, "send_failures_total", reason="retry") == 1
    assert moved(before, after, "send_failures_total", reason="refused") == 1
    assert moved(before, after, "messages_sent_total") == 0
    assert value(after, "outbox_depth", state="failed") == 1
    assert value(after, "dead_letters", queue="outbox") == 1


def test_photo_text_and_transcription_are_timed(services: Services) -> None:
    assert services.photos is not None
    engine = services.photos.reader.name

    def count(name: str, **labels: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    ocr_before = count("photo_text_seconds_count", engine=engine)
    send(services, ALICE, "", PADARIA)  # a photo alone: read while it is answered
    # A read over its time budget (the first one loads the models; a busy machine) goes
    # on in the background and is timed when it ends.
    deadline = time.monotonic() + 60
    while count("photo_text_seconds_count", engine=engine) == ocr_before:
        assert time.monotonic() < deadline, "the photo was never read"
        time.sleep(0.05)
    assert count("photo_text_seconds_count", engine=engine) == ocr_before + 1
    assert count("photo_text_seconds_sum", engine=engine) > 0

    class Heard:
        name = "heard"

        def transcribe(
            self, audio: bytes, content_type: str, language: str | None, vocabulary: str = ""
        ) -> str:
            time.sleep(0.01)
            return "conta de luz"

    services.assistant.transcriber = Heard()
    before = count("transcription_seconds_count", engine="heard")
    send(services, ALICE, "", speak("conta de luz"))
    assert count("transcription_seconds_count", engine="heard") == before + 1
    assert count("transcription_seconds_sum", engine="heard") >= 0.01


# --- who may scrape ----------------------------------------------------------------------


def test_metrics_need_the_admin_or_the_metrics_token_which_opens_nothing_else(
    sandbox: Sandbox, fake: FakeTwilio
) -> None:
    services = sandbox.fresh(**twilio_env(fake, METRICS_TOKEN="scrape-secret-for-tests"))
    try:
        client = app_client(services)
        metrics_bearer = {"Authorization": "Bearer scrape-secret-for-tests"}
        assert client.get("/metrics").status_code == 401
        # Non-ASCII in the header is refused, not a crash.
        weird = "Bearer scrape-secrét".encode()
        for header in (
            "Bearer wrong",
            "Basic c2NyYXBlLXNlY3JldC1mb3ItdGVzdHM=",
            "scrape-secret-for-tests",
            weird,
        ):
            refused = client.get("/metrics", headers={"Authorization": header})
            assert refused.status_code == 401, header
        assert value(scrape(client, ADMIN), "database_up") == 1
        assert value(scrape(client, metrics_bearer), "database_up") == 1
        # The metrics token opens GET /metrics only, and does not make its holder the admin.
        for path in ("/report", "/get-report-data", "/agent-messages", "/memory-content"):
            assert client.get(path, headers=metrics_bearer).status_code == 401, path
        assert client.post("/clear-memory", headers=metrics_bearer).status_code == 401
        assert client.post("/metrics", headers=metrics_bearer).status_code == 401
        health = client.get("/healthz", headers=metrics_bearer).json()
        assert health == {"status": "ok"}  # the details are the admin's
    finally:
        services.close()


def test_without_a_metrics_token_only_the_admin_may_scrape(wa: Services) -> None:
    client = app_client(wa)
    for header in ("Bearer ", "Bearer None", "Bearer null"):
        assert client.get("/metrics", headers={"Authorization": header}).status_code == 401
    assert client.get("/metrics", headers=ADMIN).status_code == 200


# --- the database gauges -----------------------------------------------------------------


def test_the_database_kind_follows_the_configuration() -> None:
    def settings(**values: Any) -> Settings:
        base = {"DATABASE_URL": None, "POSTGRES_DB_HOST": None}
        return Settings(_env_file=None, **{**base, **values})  # type: ignore[call-arg]

    assert metrics.database_kind(settings()) == "embedded"
    assert metrics.database_kind(settings(DATABASE_URL="postgresql://db/x")) == "external"
    assert metrics.database_kind(settings(POSTGRES_DB_HOST="db")) == "external"


def test_a_scrape_answers_while_the_database_is_away() -> None:
    class Away:
        def depth(self, timeout: float | None = None) -> dict[str, int]:
            raise OSError("connection refused")

    collector = metrics.DatabaseCollector(Away(), "external")  # type: ignore[arg-type]
    samples = parse(metrics.exposition(collector).decode())
    assert value(samples, "database_up") == 0
    assert value(samples, "database_info", kind="external") == 1
    assert not any(name == "inbox_depth" for name, _ in samples)


# --- several processes -------------------------------------------------------------------

COUNT_ONE = (
    "import sys\n"
    "from assistant import metrics\n"
    "metrics.SEARCH_EMPTY.inc()\n"
    "metrics.WEBHOOK_REQUESTS.labels('/whatsapp', '200').inc(int(sys.argv[1]))\n"
)
SCRAPE = (
    "import sys\nfrom assistant import metrics\nsys.stdout.write(metrics.exposition().decode())\n"
)


def test_multiprocess_mode_adds_up_every_process(tmp_path: Path) -> None:
    """Two processes count into PROMETHEUS_MULTIPROC_DIR and exit; a third one's scrape
    (what any web process answers) shows their sum."""
    env = clean_env(PROMETHEUS_MULTIPROC_DIR=tmp_path / "prom")
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", COUNT_ONE, str(n)], env=env, check=True)
    assert len(list((tmp_path / "prom").glob("*.db"))) >= 2  # one file set per process
    out = subprocess.run(
        [sys.executable, "-c", SCRAPE], env=env, check=True, capture_output=True, text=True
    ).stdout
    samples = parse(out)
    assert value(samples, "search_empty_total") == 2
    assert value(samples, "webhook_requests_total", route="/whatsapp", status="200") == 5
    # Per-process facts (memory, CPU) are left out: they would describe one process only.
    assert not any(name.startswith("process_") for name, _ in samples)


@pytest.fixture
def deployment(
    sandbox: Sandbox, fake: FakeTwilio, tmp_path: Path
) -> Iterator[tuple[str, FakeTwilio, Path]]:
    """The README's production shape in multiprocess mode: `uvicorn webhook:app
    --workers 2` (web only) and an `assistant worker` process, sharing one metrics dir."""
    _, url = sandbox.new_database()
    prom = tmp_path / "prom"
    env = clean_env(
        **twilio_env(fake, DATABASE_URL=url, DATA_DIR=tmp_path / "data", WORKER_THREADS=0),
        PROMETHEUS_MULTIPROC_DIR=prom,
        METRICS_TOKEN="scrape-secret-for-tests",
        TEXT_READER="none",
    )
    with web_and_worker(tmp_path, env, worker_threads=1) as base:
        yield base, fake, tmp_path


@pytest.mark.slow
def test_two_web_processes_and_a_worker_are_scraped_as_one(
    deployment: tuple[str, FakeTwilio, Path],
) -> None:
    base, fake, tmp_path = deployment
    users = [f"+55119333{i:05d}" for i in range(4)]
    token = {"Authorization": "Bearer scrape-secret-for-tests"}
    with httpx.Client(base_url=base, timeout=10) as client:
        for user in users:
            for n in range(3):
                assert (
                    post_signed(
                        client, fake.auth_token, webhook_form(user, f"nota {n}")
                    ).status_code
                    == 200
                )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(fake.recorded.sends) < 12:
            time.sleep(0.2)
        log = (tmp_path / "web.log").read_text()
        assert len(fake.recorded.sends) == 12, log[-3000:]
        # Each scrape is answered by either web process; every one adds up all three
        # (the messages were handled by the worker process, which serves no HTTP). A
        # message's processing is recorded before its reply is sent.
        for _ in range(6):
            samples = scrape(client, token)
            route = {"route": "/whatsapp", "status": "200"}
            assert value(samples, "webhook_requests_total", **route) == 12
            assert value(samples, "webhook_ack_seconds_count", route="/whatsapp") == 12
            assert value(samples, "message_processing_seconds_count", outcome="done") == 12
            assert value(samples, "inbox_depth", state="pending") == 0
            assert value(samples, "database_up") == 1
        # A send is counted once Twilio's answer is back: a moment after the fake saw it.
        while value(samples, "messages_sent_total") < 12 and time.monotonic() < deadline:
            time.sleep(0.1)
            samples = scrape(client, token)
        assert value(samples, "messages_sent_total") == 12
    pids = {p.name.split("_")[-1] for p in (tmp_path / "prom").glob("*.db")}
    assert len(pids) >= 2, pids  # at least one web process and the worker wrote files
