"""The database restarts or goes away under a running app: nothing is lost, nothing fails
for longer than the outage, and the app tells Twilio and load balancers the truth fast.

These tests use a PostgreSQL server of their own (they stop it)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from assistant.factory import Services
from assistant.ops.sandbox import Sandbox
from tests.fakes.twilio_server import FakeTwilio
from tests.helpers import pg
from tests.helpers.web import app_client
from tests.helpers.whatsapp import PUBLIC, drain, sign, twilio_env, webhook_form

ALICE = "+5511977770001"


@pytest.fixture(scope="module")
def own_server() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def wa(own_server: Sandbox, fake: FakeTwilio) -> Iterator[Services]:
    services = own_server.fresh(**twilio_env(fake))
    yield services
    services.close()


def post(client, token: str, text: str):  # type: ignore[no-untyped-def]
    form = webhook_form(ALICE, text)
    signature = sign(token, f"{PUBLIC}/whatsapp", form)
    return client.post("/whatsapp", data=form, headers={"X-Twilio-Signature": signature})


def test_a_database_restart_fails_no_webhook(
    own_server: Sandbox, wa: Services, fake: FakeTwilio
) -> None:
    """Regression: after `pg_ctl restart` the next webhooks got 500, once per stale
    connection in the pool."""
    client = app_client(wa)
    # Fill the pool with connections that the restart will kill.
    for i in range(6):
        assert post(client, fake.auth_token, f"antes {i}").status_code == 200
    pg.restart(own_server.server)
    statuses = [post(client, fake.auth_token, f"depois {i}").status_code for i in range(12)]
    assert statuses == [200] * 12
    assert wa.db.scalar("SELECT count(*) FROM inbox") == 18
    drain(wa)
    assert len(fake.sends_to(f"whatsapp:{ALICE}")) == 18


def test_an_outage_spools_webhooks_and_replays_them(
    own_server: Sandbox, wa: Services, fake: FakeTwilio
) -> None:
    """Regression: with the database down, webhooks waited the pool's 30 s (Twilio gives
    up at 15 s) and /healthz took 30 s to say 503."""
    with app_client(wa) as client:  # the lifespan runs the spool's replayer
        assert post(client, fake.auth_token, "primeira").status_code == 200
        pg.stop(own_server.server)
        try:
            started = time.monotonic()
            health = client.get("/healthz")
            assert health.status_code == 503 and health.json() == {"status": "degraded"}
            assert time.monotonic() - started < 5
            started = time.monotonic()
            for text in ("durante 1", "durante 2"):
                assert post(client, fake.auth_token, text).status_code == 200
            assert time.monotonic() - started < 10  # well within Twilio's 15 s
            spooled = sorted(wa.settings.spool_dir.glob("*.json"))
            assert len(spooled) == 2
        finally:
            pg.start(own_server.server)
        deadline = time.monotonic() + 20
        while list(wa.settings.spool_dir.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(wa.settings.spool_dir.glob("*.json")) == []
        assert client.get("/healthz").status_code == 200
    texts = [
        r["text"] for r in wa.db.fetchall("SELECT payload->>'text' AS text FROM inbox ORDER BY id")
    ]
    assert texts == ["primeira", "durante 1", "durante 2"]  # all of them, in order
    drain(wa)
    assert len(fake.sends_to(f"whatsapp:{ALICE}")) == 3


def test_a_replayed_spool_file_is_stored_once(wa: Services, fake: FakeTwilio) -> None:
    from assistant.spool import Spool
    from assistant.twilio import parse_form

    spool = Spool(wa.settings.spool_dir)
    message = parse_form(webhook_form(ALICE, "duplicada"))
    spool.append(ALICE, message, PUBLIC)
    spool.append(ALICE, message, PUBLIC)  # Twilio's retry of the same MessageSid
    assert spool.replay(wa.inbox.enqueue) == 2
    assert wa.db.scalar("SELECT count(*) FROM inbox") == 1
    assert not spool.pending()
