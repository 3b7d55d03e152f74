"""Shared fixtures: one embedded PostgreSQL per test session, a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from assistant.factory import Services
from assistant.ops.sandbox import Sandbox
from tests.fakes.meta_server import FakeMeta
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_server import FakeTwilio
from tests.helpers.s3 import BUCKET, raw_client, s3_env
from tests.helpers.whatsapp import twilio_env, wire_media

DATA = Path(__file__).parent / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The real llama-server's tests run last: on a fresh machine its one-time build
    (about 7 minutes on two cores, started early by `.ci/run`) finishes meanwhile."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/test_llama_server.py"))


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture(scope="module")
def own_server() -> Iterator[Sandbox]:
    """An embedded PostgreSQL for one test module alone: for tests that stop it."""
    with Sandbox() as box:
        yield box


@pytest.fixture
def services(sandbox: Sandbox) -> Iterator[Services]:
    svc = sandbox.fresh()
    yield svc
    svc.close()


# --- S3 through boto3 against moto's server ------------------------------------------


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(sandbox: Sandbox, moto_url: str) -> Iterator[Services]:
    client = raw_client(moto_url)
    client.create_bucket(Bucket=BUCKET)
    services = sandbox.fresh(**s3_env(moto_url))
    yield services
    services.close()
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


# --- OpenAI ------------------------------------------------------------------------------


@pytest.fixture
def ai() -> Iterator[FakeOpenAI]:
    """The fake OpenAI-compatible server (chat, embeddings, transcriptions, images)."""
    server = FakeOpenAI()
    yield server
    server.stop()


# --- Twilio ------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    """The fake Twilio with the account's default settings."""
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def graph() -> Iterator[FakeMeta]:
    """The fake Graph API (Meta's WhatsApp Cloud API and its media host)."""
    server = FakeMeta().start()
    yield server
    server.stop()


@pytest.fixture
def wa(sandbox: Sandbox, fake: FakeTwilio) -> Iterator[Services]:
    """An assistant wired to the fake Twilio (sends, media downloads)."""
    services = sandbox.fresh(**twilio_env(fake))
    wire_media(services, fake)
    yield services
    services.close()
