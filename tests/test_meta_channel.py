"""Meta's WhatsApp Cloud API channel end to end: its webhook (verification, signatures,
every payload kind, batches, duplicates, statuses), its media (token, expiry, hashes,
redirects, limits) and its sends (text, images, each error class), against the fake Graph
API of tests/fakes/meta_server.py (modelled on Meta's pages: docs/meta-cloud-api-notes.md),
alone and beside Twilio."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.factory import Services
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from tests.fakes import meta_server as meta
from tests.fakes.meta_server import FakeMeta, GraphFailure
from tests.fakes.twilio_server import FakeTwilio
from tests.helpers.catalog import SpyTranscriber
from tests.helpers.hostile import opus_in_ogg
from tests.helpers.web import app_client
from tests.helpers.whatsapp import (
    CHANNEL_TEST_ENV,
    PUBLIC,
    bodies,
    drain,
    post_signed,
    twilio_env,
    webhook_form,
)

USER = meta.USER_WA_ID
OWNER = f"+{USER}"
VERIFY = "verify-token-for-tests"


def meta_env(fake: FakeMeta, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "META_ACCESS_TOKEN": meta.ACCESS_TOKEN,
        "META_PHONE_NUMBER_ID": meta.PHONE_NUMBER_ID,
        "META_APP_SECRET": meta.APP_SECRET,
        "META_VERIFY_TOKEN": VERIFY,
        "META_GRAPH_VERSION": meta.GRAPH_VERSION,
        "META_API_URL": fake.graph_url,
        # The fake's media host is a local origin the operator vouches for.
        "META_MEDIA_HOSTS": f"lookaside.fbsbx.com,{fake.lookaside_url}",
        **CHANNEL_TEST_ENV,
    }
    values.update(extra)
    return values


@pytest.fixture
def cloud(sandbox: Sandbox, graph: FakeMeta) -> Iterator[Services]:
    services = sandbox.fresh(**meta_env(graph))
    yield services
    services.close()


@pytest.fixture
def client(cloud: Services) -> TestClient:
    return app_client(cloud)


def deliver(client: TestClient, payload: dict[str, Any], **headers: str) -> Any:
    body, signed = meta.signed(payload)
    return client.post("/meta/webhook", content=body, headers={**signed, **headers})


def texts_to(graph: FakeMeta, wa_id: str = USER) -> list[str]:
    return [s.text or s.body.get("image", {}).get("caption", "") for s in graph.sends_to(wa_id)]


def test_verification_answers_the_challenge_only_to_the_right_token(client: TestClient) -> None:
    ok = client.get("/meta/webhook", params=meta.verification_query(VERIFY, "8675309"))
    assert ok.status_code == 200 and ok.text == "8675309"
    assert ok.headers["content-type"].startswith("text/plain")
    wrong = client.get("/meta/webhook", params=meta.verification_query("guess", "1"))
    assert wrong.status_code == 403 and "1" not in wrong.text
    mode = {**meta.verification_query(VERIFY, "1"), "hub.mode": "unsubscribe"}
    assert client.get("/meta/webhook", params=mode).status_code == 403
    assert client.get("/meta/webhook").status_code == 403


def test_an_unset_verify_token_verifies_nothing(sandbox: Sandbox, graph: FakeMeta) -> None:
    services = sandbox.fresh(**meta_env(graph, META_VERIFY_TOKEN=""))
    try:
        query = meta.verification_query("", "1")
        assert app_client(services).get("/meta/webhook", params=query).status_code == 403
    finally:
        services.close()


def test_notifications_need_the_apps_signature(cloud: Services, client: TestClient) -> None:
    payload = meta.notification([meta.text("oi")])
    body, headers = meta.signed(payload)
    assert client.post("/meta/webhook", content=body).status_code == 403  # none
    forged = {**headers, "X-Hub-Signature-256": meta.sign(body, "another-secret")}
    assert client.post("/meta/webhook", content=body, headers=forged).status_code == 403
    tampered = body.replace(b"oi", b"ok")
    assert client.post("/meta/webhook", content=tampered, headers=headers).status_code == 403
    assert cloud.db.scalar("SELECT count(*) FROM inbox") == 0
    assert client.post("/meta/webhook", content=body, headers=headers).status_code == 200
    assert cloud.db.scalar("SELECT count(*) FROM inbox") == 1


def test_without_an_app_secret_notifications_are_refused(sandbox: Sandbox, graph: FakeMeta) -> None:
    services = sandbox.fresh(**meta_env(graph, META_APP_SECRET=""))
    try:
        response = deliver(app_client(services), meta.notification([meta.text("oi")]))
        assert response.status_code == 503
    finally:
        services.close()


def test_a_text_is_answered_through_meta_once_however_often_it_is_delivered(
    cloud: Services, client: TestClient, graph: FakeMeta
) -> None:
    payload = meta.notification([meta.text("ajuda")])
    for _ in range(3):  # Meta retries what it did not see acknowledged
        assert deliver(client, payload).status_code == 200
    assert cloud.db.scalar("SELECT count(*) FROM inbox") == 1
    drain(cloud)
    sends = graph.sends_to(USER)
    assert sends and all(s.body["type"] == "text" for s in sends)
    assert sends[0].body["text"]["preview_url"] is False
    assert "fotos" in (sends[0].text or "").lower()
    assert {s.phone_number_id for s in sends} == {meta.PHONE_NUMBER_ID}
    row = cloud.db.fetchone("SELECT channel, recipient, status, sid FROM outbox LIMIT 1")
    assert row is not None and row["channel"] == "meta" and row["recipient"] == OWNER
    assert row["status"] == "sent" and row["sid"] == sends[0].message_id
    assert cloud.db.scalar("SELECT profile_name FROM users WHERE phone = %s", (OWNER,)) == (
        meta.USER_NAME
    )


def test_several_messages_and_entries_in_one_notification(
    cloud: Services, client: TestClient, graph: FakeMeta
) -> None:
    other = "5511988887777"
    first = meta.notification([meta.text("oi", sender=USER), meta.text("hello", sender=other)])
    second = meta.notification([meta.text("ajuda", sender=USER)])
    assert deliver(client, meta.merge(first, second)).status_code == 200
    rows = cloud.db.fetchall("SELECT owner, payload->>'text' AS text FROM inbox ORDER BY id")
    assert [(r["owner"], r["text"]) for r in rows] == [
        (OWNER, "oi"),
        (f"+{other}", "hello"),
        (OWNER, "ajuda"),
    ]
    drain(cloud)
    assert graph.sends_to(other) and graph.sends_to(USER)


def test_a_photo_with_a_caption_is_fetched_with_the_token_and_saved(
    cloud: Services, client: TestClient, graph: FakeMeta
) -> None:
    photo = sample_image("meta dog")
    media_id = graph.add_media(photo, "image/jpeg")
    message = graph.media_message(media_id, caption="Meu cachorro na praia")
    assert deliver(client, meta.notification([message])).status_code == 200
    drain(cloud)
    (entry,) = cloud.catalog.recent(OWNER).entries
    assert entry.description == "Meu cachorro na praia"
    info = [s for s in graph.seen_by("graph") if s.method == "GET"]
    assert [s.authorization for s in info] == [f"Bearer {meta.ACCESS_TOKEN}"]
    assert [s.authorization for s in graph.seen_by("lookaside")] == [f"Bearer {meta.ACCESS_TOKEN}"]
    assert "salv" in " ".join(texts_to(graph)).lower()

    # Asked for it later: the photo goes back as an image by link (our signed URL).
    deliver(client, meta.notification([meta.text("mostre fotos de cachorro")]))
    drain(cloud)
    (image,) = [s for s in graph.sends_to(USER) if s.body["type"] == "image"]
    assert image.body["image"]["link"].startswith(f"{PUBLIC}/media/")
    assert image.body["image"]["caption"] == "Meu cachorro na praia"


def test_a_photo_without_a_caption_and_a_voice_note(
    cloud: Services, client: TestClient, graph: FakeMeta
) -> None:
    media_id = graph.add_media(sample_image("meta alone"), "image/jpeg")
    deliver(client, meta.notification([graph.media_message(media_id)]))
    drain(cloud)
    assert cloud.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (OWNER,)) == 1

    spy = SpyTranscriber(text="mostre as fotos")
    cloud.assistant.transcriber = spy  # type: ignore[assignment]
    note = graph.add_media(opus_in_ogg(2), "audio/ogg; codecs=opus")
    deliver(client, meta.notification([graph.media_message(note, voice=True)]))
    drain(cloud)
    assert len(spy.heard) == 1
    assert any("mostre as fotos" in t for t in texts_to(graph))


def test_an_expired_media_url_is_asked_for_again(
    cloud: Services, client: TestClient, graph: FakeMeta
) -> None:
    media_id = graph.add_media(sample_image("meta late"), "image/jpeg")
    graph.url_ttl = -1  # the first URL is already expired when it is used
    original = graph._media_info

    def then_fresh(*args: Any) -> Any:
        answer = original(*args)
        graph.url_ttl = 300
        return answer

    graph._media_info = then_fresh  # type: ignore[method-assign]
    deliver(client, meta.notification([graph.media_message(media_id, caption="Atrasada")]))
    drain(cloud)
    assert [e.description for e in cloud.catalog.recent(OWNER).entries] == ["Atrasada"]
    info = [s for s in graph.seen_by("graph") if s.method == "GET"]
    assert len(info) == 2 and len(graph.seen_by("lookaside")) == 2


def test_media_whose_bytes_do_not_match_the_declared_hash_is_not_kept(
    cloud: Services, client: TestClient, graph: FakeMeta
) -> None:
    media_id = graph.add_media(sample_image("meta x"), "image/jpeg", declared_sha256="0" * 64)
    deliver(client, meta.notification([graph.media_message(media_id, caption="Trocada")]))
    drain(cloud)
    assert cloud.catalog.recent(OWNER).entries == []
    assert any("baixar" in t for t in texts_to(graph))  # "couldn't download it: resend"


def test_the_token_never_follows_a_redirect(sandbox: Sandbox, graph: FakeMeta) -> None:
    hosts = f"{graph.lookaside_url},{graph.cdn_url}"
    services = sandbox.fresh(**meta_env(graph, META_MEDIA_HOSTS=hosts))
    try:
        media_id = graph.add_media(sample_image("meta cdn"), "image/jpeg", redirect=True)
        message = graph.media_message(media_id, caption="Pelo CDN")
        deliver(app_client(services), meta.notification([message]))
        drain(services)
        assert [e.description for e in services.catalog.recent(OWNER).entries] == ["Pelo CDN"]
        (cdn,) = graph.seen_by("cdn")
        assert cdn.authorization is None
    finally:
        services.close()


def test_a_redirect_off_metas_hosts_is_not_followed(
    cloud: Services, client: TestClient, graph: FakeMeta
) -> None:
    media_id = graph.add_media(sample_image("meta off"), "image/jpeg", redirect=True)
    deliver(client, meta.notification([graph.media_message(media_id, caption="Fora")]))
    drain(cloud)
    assert graph.seen_by("cdn") == [] and cloud.catalog.recent(OWNER).entries == []
    assert any("baixar" in t for t in texts_to(graph))


def test_limits_and_kinds_are_decided_before_downloading(
    cloud: Services, client: TestClient, graph: FakeMeta
) -> None:
    big = graph.add_media(b"\xff\xd8" + b"0" * (6 * 1024 * 1024), "image/jpeg")
    film = graph.add_media(b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    deliver(client, meta.notification([graph.media_message(big, caption="Grande")]))
    deliver(client, meta.notification([graph.media_message(film, caption="Filme")]))
    drain(cloud)
    assert graph.seen_by("lookaside") == []  # refused from the media info alone
    said = " ".join(texts_to(graph))
    assert "limite é 5 MB" in said and "tipo de arquivo" in said


def test_messages_with_nothing_to_keep(
    cloud: Services, client: TestClient, graph: FakeMeta
) -> None:
    sent = meta.wamid()
    messages = [
        meta.reaction(sent, "👍"),
        meta.location(-23.55, -46.63, name="Padaria"),
        meta.unsupported("video_note"),
        meta.future_message("hologram", {"id": "x"}),
    ]
    for message in messages:
        assert deliver(client, meta.notification([message])).status_code == 200
    assert cloud.db.scalar("SELECT count(*) FROM inbox") == 3  # not the reaction
    drain(cloud)
    said = texts_to(graph)
    assert len(said) == 3 and all("esse tipo de mensagem" in t for t in said)


def test_statuses_update_the_outbox(cloud: Services, client: TestClient, graph: FakeMeta) -> None:
    deliver(client, meta.notification([meta.text("oi")]))
    drain(cloud)
    sid = cloud.db.scalar("SELECT sid FROM outbox")
    deliver(client, meta.notification(statuses=[meta.status(sid, "delivered")]))
    assert cloud.db.scalar("SELECT delivery_status FROM outbox") == "delivered"
    deliver(client, meta.notification(statuses=[meta.failed(sid, 131026)]))
    assert cloud.db.scalar("SELECT delivery_status FROM outbox") == (
        "failed: 131026 Message undeliverable"
    )


def test_send_errors_are_classified_by_graph_code(
    cloud: Services, client: TestClient, graph: FakeMeta
) -> None:
    # Throttling comes with a 400 and a 5xx page from a proxy: both retried, then sent.
    graph.send_failures = [GraphFailure.of(130429), GraphFailure.raw(502, b"<html>bad gw")]
    deliver(client, meta.notification([meta.text("oi")]))
    drain(cloud)
    assert cloud.db.scalar("SELECT status FROM outbox") == "sent"
    assert graph.send_attempts == 3

    # More than 24 hours since the person wrote: refused for good, with Meta's reason.
    graph.send_failures = [GraphFailure.of(131047)]
    deliver(client, meta.notification([meta.text("oi de novo")]))
    drain(cloud)
    row = cloud.db.fetchone("SELECT status, last_error FROM outbox ORDER BY id DESC LIMIT 1")
    assert row is not None and row["status"] == "failed"
    assert "131047" in row["last_error"] and "24-hour" in row["last_error"]

    graph.expire_token()  # 401, code 190: refused, not retried
    attempts = graph.send_attempts
    deliver(client, meta.notification([meta.text("e agora?")]))
    drain(cloud)
    row = cloud.db.fetchone("SELECT status, last_error FROM outbox ORDER BY id DESC LIMIT 1")
    assert row is not None and row["status"] == "failed" and "code 190" in row["last_error"]
    assert graph.send_attempts == attempts + 1

    # The operator sees them counted: on the dashboard and the report.
    from assistant.ops.dashboard import dashboard

    (sends,) = dashboard(cloud.db, cloud.inbox).sends
    assert (sends.channel, sends.sent, sends.failed, sends.outside_window) == ("meta", 1, 2, 1)
    admin = {"Authorization": "Bearer admin-secret-for-tests"}
    report = client.get("/report", headers=admin)
    assert report.status_code == 200 and "Outside the 24-hour window" in report.text


def test_both_channels_at_once_each_reply_goes_back_its_way(
    sandbox: Sandbox, graph: FakeMeta, fake: FakeTwilio
) -> None:
    from tests.helpers.whatsapp import wire_media

    services = sandbox.fresh(**{**twilio_env(fake), **meta_env(graph)})
    try:
        wire_media(services, fake)
        client = app_client(services)
        twilio_user = "+5511977776666"
        form = webhook_form(twilio_user, "ajuda")
        assert post_signed(client, fake.auth_token, form).is_success
        assert deliver(client, meta.notification([meta.text("ajuda")])).status_code == 200
        drain(services)
        assert bodies(fake, twilio_user) and not bodies(fake, OWNER)
        assert graph.sends_to(USER) and not graph.sends_to(twilio_user.lstrip("+"))
        health = client.get(
            "/healthz", headers={"Authorization": "Bearer admin-secret-for-tests"}
        ).json()
        assert health["channels"] == {"twilio": True, "meta": True}
    finally:
        services.close()


def test_ids_that_are_not_metas_are_refused_and_the_body_is_bounded(
    cloud: Services, client: TestClient, graph: FakeMeta
) -> None:
    # Even signed: an id that would walk a URL path, a sender that is no phone number.
    walker = meta.image("../../me/accounts", "0" * 64, caption="x")
    stranger = meta.text("oi", sender="../admin")
    for message in (walker, stranger):
        assert deliver(client, meta.notification([message])).status_code == 200
    assert cloud.db.scalar("SELECT count(*) FROM inbox") == 0
    assert graph.seen_by("graph") == []
    # A notification over META_MAX_WEBHOOK_BYTES (1 MB) is refused before it is read.
    huge = meta.notification([meta.text("x" * 1_100_000)])
    assert deliver(client, huge).status_code == 413
    assert cloud.db.scalar("SELECT count(*) FROM inbox") == 0
