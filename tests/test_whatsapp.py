"""The Twilio channel in one process: signatures, inbox, worker, media download, outbox.

Twilio is the real SDK (and `requests` for media) talking to a local fake REST server.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.brains.base import Turn
from assistant.brains.function import FunctionBrain
from assistant.factory import Services
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from assistant.tools import Toolbox
from tests.fakes.twilio_server import FakeTwilio, ForeignHost, MediaItem
from tests.helpers.web import app_client
from tests.helpers.whatsapp import (
    PUBLIC,
    bodies,
    drain,
    post_signed,
    sign,
    twilio_env,
    webhook_form,
)
from webhook import create_app

ALICE, BOB = "+5511987650001", "+5511987650002"


def client_for(services: Services) -> TestClient:
    return app_client(services)


def inbox_status(services: Services) -> dict[str, int]:
    rows = services.db.fetchall("SELECT status, count(*) AS n FROM inbox GROUP BY status")
    return {r["status"]: int(r["n"]) for r in rows}


# --- the webhook ------------------------------------------------------------------------


def test_signed_webhook_is_queued_acknowledged_and_answered(wa: Services, fake: FakeTwilio) -> None:
    client = client_for(wa)
    response = post_signed(client, fake.auth_token, webhook_form(ALICE, "ajuda"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.endswith("<Response/>")
    assert inbox_status(wa) == {"pending": 1}
    assert fake.recorded.sends == []  # nothing is sent inside the request
    drain(wa)
    assert inbox_status(wa) == {"done": 1}
    (sent,) = fake.sends_to(f"whatsapp:{ALICE}")
    assert sent["From"] == "whatsapp:+14155238886"
    assert "descrição" in sent["Body"]
    row = wa.db.fetchone("SELECT status, sid, delivery_status FROM outbox")
    assert row == {"status": "sent", "sid": sent["sid"], "delivery_status": "queued"}


def test_wrong_or_missing_signatures_get_403(wa: Services, fake: FakeTwilio) -> None:
    client = client_for(wa)
    form = webhook_form(ALICE, "olá")
    good = sign(fake.auth_token, f"{PUBLIC}/whatsapp", form)
    tampered = {**form, "Body": "olá, mas outro texto"}
    assert (
        client.post("/whatsapp", data=tampered, headers={"X-Twilio-Signature": good}).status_code
        == 403
    )
    wrong_url = sign(fake.auth_token, "https://evil.example.com/whatsapp", form)
    assert (
        client.post("/whatsapp", data=form, headers={"X-Twilio-Signature": wrong_url}).status_code
        == 403
    )
    wrong_key = sign("not-the-token", f"{PUBLIC}/whatsapp", form)
    assert (
        client.post("/whatsapp", data=form, headers={"X-Twilio-Signature": wrong_key}).status_code
        == 403
    )
    assert client.post("/whatsapp", data=form).status_code == 403
    assert inbox_status(wa) == {}
    assert (
        client.post("/whatsapp", data=form, headers={"X-Twilio-Signature": good}).status_code == 200
    )


def test_public_url_is_rebuilt_from_a_trusted_proxys_headers(
    sandbox: Sandbox, fake: FakeTwilio
) -> None:
    services = sandbox.fresh(
        **twilio_env(fake, PUBLIC_BASE_URL=None, ALLOWED_HOSTS="abc123.ngrok.app")
    )
    tunnel = app_client(services, peer="127.0.0.1")  # a tunnel client on this machine
    form = webhook_form(ALICE, "oi")
    signature = sign(fake.auth_token, "https://abc123.ngrok.app/whatsapp", form)
    headers = {"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https"}
    assert tunnel.post("/whatsapp", data=form, headers=headers).status_code == 403
    headers["X-Forwarded-Host"] = "abc123.ngrok.app"
    assert tunnel.post("/whatsapp", data=form, headers=headers).status_code == 200
    payload = services.db.scalar("SELECT payload FROM inbox")
    assert payload["public_base"] == "https://abc123.ngrok.app"
    # The same headers from a peer that is not a configured proxy are not believed.
    other = webhook_form(ALICE, "oi de novo")
    headers["X-Twilio-Signature"] = sign(
        fake.auth_token, "https://abc123.ngrok.app/whatsapp", other
    )
    outsider = app_client(services, peer="203.0.113.7")
    assert outsider.post("/whatsapp", data=other, headers=headers).status_code == 403


def test_oversized_bodies_are_refused_before_parsing(wa: Services, fake: FakeTwilio) -> None:
    client = client_for(wa)
    form = webhook_form(ALICE, "x" * 100_000)
    response = post_signed(client, fake.auth_token, form)
    assert response.status_code == 413
    assert inbox_status(wa) == {}


def serve(app: FastAPI) -> tuple[str, uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", server, thread


def test_duplicate_message_sid_is_processed_once(wa: Services, fake: FakeTwilio) -> None:
    base, server, thread = serve(create_app(wa, workers=0, mount_ui=False))
    try:
        form = webhook_form(ALICE, "Mostre fotos de cachorro")
        headers = {"X-Twilio-Signature": sign(fake.auth_token, f"{PUBLIC}/whatsapp", form)}

        def deliver(_: int) -> int:
            return httpx.post(f"{base}/whatsapp", data=form, headers=headers).status_code

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(deliver, range(10)))
    finally:
        server.should_exit = True
        thread.join(10)
    assert statuses == [200] * 10
    drain(wa)
    assert inbox_status(wa) == {"done": 1}
    assert len(fake.sends_to(f"whatsapp:{ALICE}")) == 1
    assert wa.db.scalar("SELECT count(*) FROM messages WHERE direction = 'in'") == 1


# --- media ------------------------------------------------------------------------------


def test_photo_is_downloaded_with_auth_and_sent_back_by_signed_link(
    wa: Services, fake: FakeTwilio
) -> None:
    client = client_for(wa)
    photo = sample_image("cachorro na praia")
    url = fake.add_media(MediaItem(photo, "image/jpeg"))
    post_signed(
        client, fake.auth_token, webhook_form(ALICE, "Meu cachorro na praia", [(url, "image/jpeg")])
    )
    drain(wa)
    assert "Foto salva" in bodies(fake, ALICE)[0]
    api, s3 = fake.recorded.media_requests
    assert api["host"] == "api" and api["authorization"].startswith("Basic ")
    # Twilio's default account setting: the redirect goes to S3, without credentials.
    assert s3["host"] == "s3-external-1.amazonaws.com" and s3["authorization"] is None

    post_signed(client, fake.auth_token, webhook_form(ALICE, "Mostre fotos de cachorro"))
    drain(wa)
    sends = fake.sends_to(f"whatsapp:{ALICE}")
    with_media = [s for s in sends if s["MediaUrl"]]
    assert len(with_media) == 1 and len(with_media[0]["MediaUrl"]) == 1
    link = with_media[0]["MediaUrl"][0]
    assert link.startswith(f"{PUBLIC}/media/")
    fetched = client.get(link.removeprefix(PUBLIC))
    assert fetched.status_code == 200 and fetched.content == photo
    assert fetched.headers["content-type"] == "image/jpeg"


def test_media_404_right_after_the_webhook_is_retried(wa: Services, fake: FakeTwilio) -> None:
    client = client_for(wa)
    url = fake.add_media(MediaItem(sample_image("recibo"), "image/jpeg", not_found_first=1))
    post_signed(
        client, fake.auth_token, webhook_form(ALICE, "Recibo do mercado", [(url, "image/jpeg")])
    )
    drain(wa)
    assert wa.catalog.count_entries(ALICE) == 1
    api_calls = [r for r in fake.recorded.media_requests if r["host"] == "api"]
    assert len(api_calls) == 2
    assert "Foto salva" in bodies(fake, ALICE)[0]


def test_bad_media_gets_a_clear_reply_and_leaks_no_credentials(
    wa: Services, fake: FakeTwilio
) -> None:
    client = client_for(wa)
    foreign = ForeignHost(sample_image("elsewhere"))
    try:
        big = fake.add_media(MediaItem(b"\xff\xd8\xff" + b"\0" * (6 * 2**20), "image/jpeg"))
        pdf = fake.add_media(MediaItem(b"%PDF-1.4 fake", "application/pdf"))
        cases = [
            (big, "image/jpeg", "limite é 5 MB"),
            (pdf, "application/pdf", "JPG, PNG ou WEBP"),
            (f"{foreign.url}/2010-04-01/Media/ME1", "image/jpeg", "Não consegui baixar"),
        ]
        for url, ctype, expected in cases:
            post_signed(client, fake.auth_token, webhook_form(ALICE, "", [(url, ctype)]))
            drain(wa)
            assert expected in bodies(fake, ALICE)[-1]
        assert foreign.requests == []  # not even asked, let alone with our credentials
    finally:
        foreign.stop()
    assert wa.catalog.count_images(ALICE) == 0
    assert inbox_status(wa) == {"done": 3}


# --- sending ----------------------------------------------------------------------------


def test_sends_are_retried_on_429_and_500_and_sent_once(wa: Services, fake: FakeTwilio) -> None:
    client = client_for(wa)
    fake.send_failures = [429, 500]
    post_signed(client, fake.auth_token, webhook_form(ALICE, "oi"))
    drain(wa)
    assert fake.recorded.send_attempts == 3
    assert len(fake.sends_to(f"whatsapp:{ALICE}")) == 1
    row = wa.db.fetchone("SELECT status, attempts FROM outbox")
    assert row == {"status": "sent", "attempts": 3}


def test_permanent_send_errors_are_not_retried(wa: Services, fake: FakeTwilio) -> None:
    client = client_for(wa)
    fake.send_failures = [400]
    post_signed(client, fake.auth_token, webhook_form(ALICE, "oi"))
    drain(wa)
    row = wa.db.fetchone("SELECT status, attempts, last_error FROM outbox")
    assert row is not None
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "400" in row["last_error"]
    assert fake.recorded.send_attempts == 1


def test_long_replies_are_split_at_1600_characters(wa: Services, fake: FakeTwilio) -> None:
    client = client_for(wa)
    for i in range(12):
        wa.catalog.create_entry(ALICE, f"Cachorro número {i} " + "muito feliz " * 40, [])
    post_signed(client, fake.auth_token, webhook_form(ALICE, "Mostre fotos de cachorro"))
    drain(wa)
    assert all(len(b) <= 1600 for b in bodies(fake, ALICE))


# --- failures and abuse -----------------------------------------------------------------


def explode(turn: Turn, tools: Toolbox) -> str:
    raise RuntimeError("model crashed")


def test_failing_messages_back_off_then_park_with_one_apology(
    sandbox: Sandbox, fake: FakeTwilio
) -> None:
    services = sandbox.fresh(**twilio_env(fake, INBOX_MAX_ATTEMPTS=3))
    services.assistant.brain = FunctionBrain(explode)
    post_signed(client_for(services), fake.auth_token, webhook_form(ALICE, "oi"))
    drain(services)
    row = services.db.fetchone("SELECT status, attempts, last_error FROM inbox")
    assert row is not None
    assert (row["status"], row["attempts"]) == ("dead", 3)
    assert "model crashed" in row["last_error"]
    (apology,) = bodies(fake, ALICE)
    assert "Tive um problema" in apology
    # Nothing of the failed attempts was kept: each ran in a transaction that rolled back.
    assert services.db.scalar("SELECT count(*) FROM messages") == 0


def test_rate_limit_keeps_messages_and_answers_once(sandbox: Sandbox, fake: FakeTwilio) -> None:
    services = sandbox.fresh(**twilio_env(fake, RATE_LIMIT_PER_MINUTE=3))
    client = client_for(services)
    for i in range(6):
        post_signed(client, fake.auth_token, webhook_form(ALICE, f"mensagem {i}"))
    post_signed(client, fake.auth_token, webhook_form(BOB, "ajuda"))
    drain(services)
    assert inbox_status(services) == {"done": 4, "throttled": 3}
    alice = bodies(fake, ALICE)
    assert len(alice) == 4
    assert sum("muitas mensagens" in b for b in alice) == 1
    kept = services.db.fetchall(
        "SELECT payload->>'text' AS text FROM inbox WHERE status = 'throttled' ORDER BY id"
    )
    assert [r["text"] for r in kept] == ["mensagem 3", "mensagem 4", "mensagem 5"]
    assert len(bodies(fake, BOB)) == 1  # other users are not affected


def test_healthz_reports_queue_depth(wa: Services, fake: FakeTwilio) -> None:
    client = client_for(wa)
    post_signed(client, fake.auth_token, webhook_form(ALICE, "oi"))
    assert client.get("/healthz").json() == {"status": "ok"}
    admin = {"Authorization": "Bearer admin-secret-for-tests"}
    body: dict[str, Any] = client.get("/healthz", headers=admin).json()
    assert body["status"] == "ok" and body["twilio"]
    assert body["queue"]["inbox_pending"] == 1
    drain(wa)
    assert client.get("/healthz", headers=admin).json()["queue"]["inbox_pending"] == 0


def test_status_callbacks_update_the_outbox(wa: Services, fake: FakeTwilio) -> None:
    client = client_for(wa)
    post_signed(client, fake.auth_token, webhook_form(ALICE, "oi"))
    drain(wa)
    (sent,) = fake.sends_to(f"whatsapp:{ALICE}")
    form = {"MessageSid": sent["sid"], "MessageStatus": "delivered", "To": f"whatsapp:{ALICE}"}
    url = f"{PUBLIC}/twilio/status"
    unsigned = client.post("/twilio/status", data=form)
    assert unsigned.status_code == 403
    signed = client.post(
        "/twilio/status",
        data=form,
        headers={"X-Twilio-Signature": sign(fake.auth_token, url, form)},
    )
    assert signed.status_code == 204
    assert wa.db.scalar("SELECT delivery_status FROM outbox") == "delivered"


def test_validation_can_be_switched_off_for_local_tunnels(
    sandbox: Sandbox, fake: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    services = sandbox.fresh(**twilio_env(fake, TWILIO_VALIDATE=False))
    with (
        caplog.at_level("WARNING"),
        app_client(services) as client,
    ):
        assert client.post("/whatsapp", data=webhook_form(ALICE, "oi")).status_code == 200
    assert "UNSIGNED" in caplog.text


def test_uncertain_sends_are_settled_with_twilios_log(wa: Services, fake: FakeTwilio) -> None:
    """A send whose answer never came is neither lost nor sent twice: Twilio's message log
    says whether it arrived (recorded as sent) or not (sent again)."""
    from assistant.channels import Channels
    from assistant.channels.twilio import TwilioChannel, TwilioSender
    from assistant.worker import Worker

    assert wa.channels.get("twilio").missing is None  # type: ignore[union-attr]
    impatient = TwilioSender(
        fake.account_sid,
        fake.auth_token,
        wa.settings.twilio_whatsapp_from or "",
        api_url=fake.url,
        timeout=0.5,
    )
    client = client_for(wa)
    fake.answer_delay = 1.5  # Twilio takes the first message but answers too late
    post_signed(client, fake.auth_token, webhook_form(ALICE, "oi"))
    worker = Worker(wa, "test-worker", channels=Channels([TwilioChannel(impatient, None)]))
    claim = wa.inbox.claim("test-worker")
    assert claim is not None
    worker.process(claim)
    worker.send_pending(claim.id)
    assert wa.db.scalar("SELECT status FROM outbox") == "uncertain"
    fake.answer_delay = 0
    # A second uncertain row that Twilio never saw (the sender died before the request).
    post_signed(client, fake.auth_token, webhook_form(BOB, "oi"))
    drain(wa)
    wa.db.execute(
        "UPDATE outbox SET status = 'uncertain', sid = NULL, sending_at = now()"
        " WHERE recipient = %s",
        (BOB,),
    )
    fake.recorded.sends[:] = [s for s in fake.recorded.sends if s["To"] != f"whatsapp:{BOB}"]
    worker.reconcile()  # (the drain above already settled the first one)
    drain(wa)
    rows = wa.db.fetchall("SELECT recipient, status, sid FROM outbox ORDER BY id")
    assert [r["status"] for r in rows] == ["sent", "sent"]
    assert len(fake.sends_to(f"whatsapp:{ALICE}")) == 1  # found in the log, not resent
    assert rows[0]["sid"] == fake.sends_to(f"whatsapp:{ALICE}")[0]["sid"]
    assert len(fake.sends_to(f"whatsapp:{BOB}")) == 1  # never arrived: sent (once)
