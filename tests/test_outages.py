"""The database restarts or goes away under a running app: nothing is lost, nothing fails
for longer than the outage, and the app tells Twilio and load balancers the truth fast.

These tests use a PostgreSQL server of their own (they stop it)."""

from __future__ import annotations

import errno
import json
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from assistant import metrics
from assistant.channels.twilio import parse_form
from assistant.factory import Services
from assistant.models import InboundMessage
from assistant.ops.sandbox import Sandbox
from tests.fakes.twilio_server import FakeTwilio
from tests.helpers import pg
from tests.helpers.web import app_client
from tests.helpers.whatsapp import PUBLIC, drain, post_signed, sign, twilio_env, webhook_form

ALICE = "+5511977770001"


@pytest.fixture
def wa(own_server: Sandbox, fake: FakeTwilio) -> Iterator[Services]:
    services = own_server.fresh(**twilio_env(fake))
    yield services
    services.close()


def test_a_database_restart_fails_no_webhook(
    own_server: Sandbox, wa: Services, fake: FakeTwilio
) -> None:
    """Regression: after `pg_ctl restart` the next webhooks got 500, once per stale
    connection in the pool."""
    client = app_client(wa)
    # Fill the pool with connections that the restart will kill.
    for i in range(6):
        assert (
            post_signed(client, fake.auth_token, webhook_form(ALICE, f"antes {i}")).status_code
            == 200
        )
    pg.restart(own_server.server)
    statuses = [
        post_signed(client, fake.auth_token, webhook_form(ALICE, f"depois {i}")).status_code
        for i in range(12)
    ]
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
        assert (
            post_signed(client, fake.auth_token, webhook_form(ALICE, "primeira")).status_code == 200
        )
        pg.stop(own_server.server)
        try:
            started = time.monotonic()
            health = client.get("/healthz")
            assert health.status_code == 503 and health.json() == {"status": "degraded"}
            assert time.monotonic() - started < 5
            started = time.monotonic()
            for text in ("durante 1", "durante 2"):
                assert (
                    post_signed(client, fake.auth_token, webhook_form(ALICE, text)).status_code
                    == 200
                )
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
    from assistant.channels.twilio import parse_form
    from assistant.spool import Spool

    spool = Spool(wa.settings.spool_dir)
    message = parse_form(webhook_form(ALICE, "duplicada"))
    spool.append(ALICE, message, PUBLIC)
    spool.append(ALICE, message, PUBLIC)  # Twilio's retry of the same MessageSid
    assert spool.replay(wa.inbox.enqueue) == 2
    assert wa.db.scalar("SELECT count(*) FROM inbox") == 1
    assert not spool.pending()


# --- bad records never block the spool (issue #23 item 4) --------------------------------

ADMIN = {"Authorization": "Bearer admin-secret-for-tests"}


def _spool_file(spool_dir: Path, record: object) -> Path:
    """A spool file as an older version (or a hand edit) could have left it."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    path = spool_dir / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def _record(text: str) -> dict[str, object]:
    message = parse_form(webhook_form(ALICE, text))
    return {
        "owner": ALICE,
        "public_base": PUBLIC,
        "received_at": time.time(),
        "message": message.model_dump(mode="json", exclude={"received_at"}),
    }


def _rejected_total(reason: str) -> float:
    return metrics.REGISTRY.get_sample_value("spool_rejected_total", {"reason": reason}) or 0.0


def test_bad_spool_files_are_set_aside_and_the_ones_behind_them_replayed(
    wa: Services, fake: FakeTwilio
) -> None:
    """Regression: a NUL in Body, a 4,002-character MessageSid (TWILIO_VALIDATE=false) or a
    file without "message" made the replayer fail on every tick, and every later webhook
    was answered 200, spooled behind it and never processed, /healthz saying ok."""
    spool_dir = wa.settings.spool_dir
    nul = _record("antes")
    nul["message"]["text"] = "meu\x00gato"  # type: ignore[index]
    long_sid = _record("antes")
    long_sid["message"]["message_id"] = "SM" + secrets.token_hex(2000)  # type: ignore[index]
    bad = [
        _spool_file(spool_dir, nul),
        _spool_file(spool_dir, long_sid),
        _spool_file(spool_dir, {"owner": ALICE, "public_base": PUBLIC, "received_at": 1.0}),
    ]
    _spool_file(spool_dir, _record("a boa, atrás delas"))
    before = _rejected_total("unreadable")
    with app_client(wa) as client:  # the lifespan runs the spool's replayer
        # A new webhook waits behind the spooled ones (arrival order), and gets through.
        assert (
            post_signed(client, fake.auth_token, webhook_form(ALICE, "depois")).status_code == 200
        )
        deadline = time.monotonic() + 20
        while list(spool_dir.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(spool_dir.glob("*.json")) == []
        health = client.get("/healthz", headers=ADMIN)
        assert health.status_code == 200
        assert health.json()["spool"] == {"pending": 0, "rejected": 3}
        assert client.get("/healthz").json() == {"status": "ok"}  # no detail for anyone
    assert sorted(p.name for p in (spool_dir / "rejected").glob("*.json")) == [p.name for p in bad]
    assert len(list((spool_dir / "rejected").glob("*.reason"))) == 3
    assert _rejected_total("unreadable") - before == 3
    texts = [r["t"] for r in wa.db.fetchall("SELECT payload->>'text' AS t FROM inbox ORDER BY id")]
    assert texts == ["a boa, atrás delas", "depois"]
    drain(wa)
    assert len(fake.sends_to(f"whatsapp:{ALICE}")) == 2


def test_what_the_database_refuses_is_set_aside_not_retried_forever(
    wa: Services, fake: FakeTwilio
) -> None:
    """Size limits are OperationalErrors in psycopg, like an outage: they used to count as
    "database away", and the spool retried them forever."""
    from assistant.spool import Spool

    spool = Spool(wa.settings.spool_dir)
    for text in ("nul", "sid", "boa"):
        spool.append(ALICE, parse_form(webhook_form(ALICE, text)), PUBLIC)

    def enqueue(owner: str, message: InboundMessage, base: str | None, at: float) -> bool:
        # What an older spool or a bypassed check would hand the database, unvalidated.
        if message.text == "nul":
            message = message.model_copy(update={"text": "a\x00b"})
        elif message.text == "sid":
            message = message.model_copy(update={"message_id": secrets.token_hex(2001)})
        return wa.inbox.enqueue(owner, message, base, at)

    before = _rejected_total("refused")
    assert spool.replay(enqueue) == 1
    assert not spool.pending()
    assert spool.status() == {"pending": 0, "rejected": 2}
    assert _rejected_total("refused") - before == 2
    reasons = sorted(p.read_text() for p in spool.rejected_dir.glob("*.reason"))
    assert all(r.startswith("refused: ") for r in reasons)
    assert any("ProgramLimitExceeded" in r for r in reasons)  # the MessageSid's index
    assert wa.db.scalar("SELECT count(*) FROM inbox") == 1


def test_an_outage_while_replaying_keeps_the_files(wa: Services) -> None:
    from assistant.spool import Spool

    spool = Spool(wa.settings.spool_dir)
    spool.append(ALICE, parse_form(webhook_form(ALICE, "espera")), PUBLIC)

    def away(*_: object) -> bool:
        raise psycopg.OperationalError("connection refused")

    with pytest.raises(psycopg.OperationalError):
        spool.replay(away)
    assert spool.status() == {"pending": 1, "rejected": 0}
    assert spool.replay(wa.inbox.enqueue) == 1


# --- the webhook refuses what cannot be stored ------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("MessageSid", "SM" + "a" * 4000),
        ("MessageSid", "SM\x00abc"),
        ("From", "whatsapp:+" + "1" * 100),
        ("To", "whatsapp:+1415\x00"),
        ("NumMedia", "11"),
        ("NumMedia", "muitos"),
        ("MediaUrl0", "https://api.twilio.com/" + "x" * 3000),
    ],
)
def test_webhook_fields_the_database_cannot_take_get_400(
    wa: Services, fake: FakeTwilio, field: str, value: str
) -> None:
    form = webhook_form(ALICE, "oi")
    form[field] = value
    if field == "MediaUrl0":
        form["NumMedia"] = "1"
    signature = sign(fake.auth_token, f"{PUBLIC}/whatsapp", form)
    client = app_client(wa)
    response = client.post("/whatsapp", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 400, response.text
    assert wa.db.scalar("SELECT count(*) FROM inbox") == 0
    assert not list(wa.settings.spool_dir.glob("*.json"))


def test_control_characters_are_dropped_from_the_body(wa: Services, fake: FakeTwilio) -> None:
    client = app_client(wa)
    assert (
        post_signed(
            client, fake.auth_token, webhook_form(ALICE, "meu\x00 gato\x07\ttem\r\n3 anos")
        ).status_code
        == 200
    )
    assert wa.db.scalar("SELECT payload->>'text' FROM inbox") == "meu gato\ttem\r\n3 anos"


# --- a full disk: 503 (Twilio retries), no half-written file ----------------------------


@pytest.mark.parametrize("failure", ["short", "zero", "enospc"])
def test_a_full_disk_gets_503_and_leaves_no_temporary_file(
    wa: Services, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        if not os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):
            return real_write(fd, data)
        if failure == "short":  # what a nearly full disk does: part of it, then nothing
            return real_write(fd, bytes(data[:10])) if len(data) > 100 else 0
        if failure == "zero":
            return 0
        raise OSError(errno.ENOSPC, "No space left on device")

    def away(*_: object, **__: object) -> bool:
        raise PoolTimeout("database away")

    monkeypatch.setattr(wa.inbox, "enqueue", away)  # so the webhook spools
    monkeypatch.setattr(os, "write", write)
    client = app_client(wa)
    assert (
        post_signed(client, fake.auth_token, webhook_form(ALICE, "sem espaço")).status_code == 503
    )
    monkeypatch.undo()
    assert list(wa.settings.spool_dir.iterdir()) == []  # no .tmp, no truncated .json


def test_a_write_cut_short_is_completed(
    wa: Services, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.write may write fewer bytes than asked: the rest is written, not dropped."""
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):
            return real_write(fd, bytes(data[:7]))
        return real_write(fd, data)

    def away(*_: object, **__: object) -> bool:
        raise PoolTimeout("database away")

    monkeypatch.setattr(wa.inbox, "enqueue", away)
    monkeypatch.setattr(os, "write", write)
    client = app_client(wa)
    assert (
        post_signed(client, fake.auth_token, webhook_form(ALICE, "aos pedaços")).status_code == 200
    )
    monkeypatch.undo()
    (spooled,) = wa.settings.spool_dir.glob("*.json")
    assert json.loads(spooled.read_text())["message"]["text"] == "aos pedaços"
    assert list(wa.settings.spool_dir.glob(".*.tmp")) == []
