"""The Meta Cloud API payload models against the fake's notifications, and the fake Graph
API itself (media info, media download, sends, failures) driven with httpx."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

import tests.fakes.meta_server as fm
from assistant.channels.meta.payloads import (
    CAPTION_MAX_CHARS,
    MEDIA_URL_TTL_SECONDS,
    TEXT_BODY_MAX_CHARS,
    MediaInfo,
    Notification,
    SendResponse,
    WebhookError,
    parse_graph_error,
    sha256_matches,
    signature_valid,
)
from tests.fakes.meta_server import (
    ACCESS_TOKEN,
    DISPLAY_PHONE_NUMBER,
    PHONE_NUMBER_ID,
    USER_NAME,
    USER_WA_ID,
    FakeMeta,
    GraphFailure,
    meta_sha256,
)

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
JPEG = b"\xff\xd8\xff\xe0" + b"a photo of a dog" * 64
SHA = meta_sha256(JPEG)


def parse(payload: dict[str, Any]) -> Notification:
    """Through the bytes Meta would send, not the dict, so escaping is exercised too."""
    return Notification.model_validate_json(fm.encode(payload))


def only_message(payload: dict[str, Any]) -> tuple[str, Any, str | None]:
    (inbound,) = list(parse(payload).inbound())
    return inbound


def details(error: WebhookError) -> str | None:
    return error.error_data.details if error.error_data else None


def error_code(response: httpx.Response) -> int | None:
    error = parse_graph_error(response.content)
    return error.code if error else None


# --- every builder parses ---------------------------------------------------------------

ITEMS = [{"product_retailer_id": "HAMBURGER", "quantity": 3, "item_price": 30, "currency": "ILS"}]
CASES: list[tuple[str, Callable[[], dict[str, Any]], str, str | None, str | None]] = [
    ("text", lambda: fm.text("mostre fotos de cachorro"), "text", "mostre fotos de cachorro", None),
    ("image+caption", lambda: fm.image("11", SHA, caption="my dog"), "image", "my dog", "11"),
    ("image", lambda: fm.image("12", SHA), "image", None, "12"),
    ("voice", lambda: fm.audio("13", SHA), "audio", None, "13"),
    ("audio file", lambda: fm.audio("14", SHA, mime_type="audio/mpeg", voice=False), "audio",
     None, "14"),
    ("video", lambda: fm.video("15", SHA, caption="a clip"), "video", "a clip", "15"),
    ("document", lambda: fm.document("16", SHA, caption="the report"), "document", "the report",
     "16"),
    ("sticker", lambda: fm.sticker("17", SHA, animated=True), "sticker", None, "17"),
    ("reaction", lambda: fm.reaction("wamid.PREV", "\U0001f62e"), "reaction", "\U0001f62e", None),
    ("unreaction", lambda: fm.reaction("wamid.PREV", None), "reaction", None, None),
    ("location", lambda: fm.location(37.46, -122.21, name="Facebook HQ", address="1 Hacker Way"),
     "location", "Facebook HQ", None),
    ("contacts", lambda: fm.contacts_card(("Chandler Bing", "+1 555-555-5555")), "contacts", None,
     None),
    ("button_reply", lambda: fm.button_reply("yes", "Yes, please"), "interactive", "Yes, please",
     None),
    ("list_reply", lambda: fm.list_reply("dogs", "Dogs", "Photos of dogs"), "interactive", "Dogs",
     None),
    ("quick reply", lambda: fm.quick_reply("more", "Show more"), "button", "Show more", None),
    ("order", lambda: fm.order("354160437058781", ITEMS, note="no onions"), "order", "no onions",
     None),
    ("system", lambda: fm.number_changed("16505559999"), "system", None, None),
    ("unsupported", lambda: fm.unsupported("poll"), "unsupported", None, None),
    ("reply", lambda: fm.text("that one", context=fm.reply_context("wamid.PREV")), "text",
     "that one", None),
    ("forwarded", lambda: fm.image("18", SHA, context=fm.forwarded_context()), "image", None, "18"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "build", "kind", "text", "media_id"), CASES, ids=[c[0] for c in CASES]
)
def test_every_builder_parses(
    name: str,
    build: Callable[[], dict[str, Any]],
    kind: str,
    text: str | None,
    media_id: str | None,
) -> None:
    raw = build()
    phone_number_id, message, profile_name = only_message(fm.notification([raw]))
    assert (phone_number_id, profile_name) == (PHONE_NUMBER_ID, USER_NAME)
    assert (message.id, message.from_, message.kind) == (raw["id"], USER_WA_ID, kind)
    assert message.plain_text == text
    if media_id is None:
        assert message.media is None
    else:
        assert message.media is not None
        assert (message.media.id, message.media.sha256) == (media_id, SHA)
        assert message.media.mime_type == raw[kind]["mime_type"]


def test_the_details_each_type_carries() -> None:
    def message(raw: dict[str, Any]) -> Any:
        return only_message(fm.notification([raw]))[1]

    assert message(fm.audio("1", SHA)).is_voice
    assert not message(fm.audio("1", SHA, voice=False)).is_voice
    assert message(fm.sticker("1", SHA, animated=True)).sticker.animated is True
    assert message(fm.document("1", SHA, filename="r.pdf")).document.filename == "r.pdf"
    removed = message(fm.reaction("wamid.PREV", None)).reaction
    assert (removed.message_id, removed.emoji) == ("wamid.PREV", None)
    assert message(fm.button_reply("yes", "Yes")).reply_id == "yes"
    assert message(fm.list_reply("row-2", "Cats")).reply_id == "row-2"
    assert message(fm.quick_reply("more", "Show more")).reply_id == "more"
    card = message(fm.contacts_card(("Chandler Bing", "+1 555"), ("Monica", "+1 666"))).contacts
    assert [c["name"]["formatted_name"] for c in card] == ["Chandler Bing", "Monica"]
    assert message(fm.order("354", ITEMS)).order["product_items"] == ITEMS
    assert message(fm.number_changed("16505559999")).system["wa_id"] == "16505559999"
    place = message(fm.location(37.46, -122.21)).location
    assert (place["latitude"], place["longitude"]) == (37.46, -122.21)


def test_context_tells_replies_from_forwards() -> None:
    reply = only_message(fm.notification([fm.text("a", context=fm.reply_context("wamid.PREV"))]))
    assert (reply[1].context.id, reply[1].context.from_) == ("wamid.PREV", DISPLAY_PHONE_NUMBER)
    forward = only_message(fm.notification([fm.text("b", context=fm.forwarded_context())]))
    assert forward[1].context.forwarded is True and forward[1].context.id is None
    many = only_message(fm.notification([fm.text("c", context=fm.forwarded_context(True))]))
    assert many[1].context.frequently_forwarded is True
    plain = only_message(fm.notification([fm.text("d")]))
    assert plain[1].context is None


def test_unsupported_messages_keep_their_error_in_both_spellings() -> None:
    message = only_message(fm.notification([fm.unsupported("poll")]))[1]
    (error,) = message.errors
    assert (error.code, error.title) == (131051, "Message type unknown")
    assert details(error) == "Message type is currently not supported."
    assert message.unsupported == {"type": "poll"}
    legacy = fm.future_message("unknown", None)  # the older spelling of the same thing
    legacy["errors"] = [{"code": 131051, "details": "Message type is not currently supported"}]
    message = only_message(fm.notification([legacy]))[1]
    assert message.kind == "unsupported"
    assert message.errors[0].details == "Message type is not currently supported"


# --- several messages, entries, statuses, errors -------------------------------------------


def test_several_messages_keep_their_order_and_senders() -> None:
    other = "5511987654321"
    raws = [fm.text("first"), fm.image("21", SHA, sender=other), fm.text("third")]
    inbound = list(parse(fm.notification(raws)).inbound())
    assert [m.id for _, m, _ in inbound] == [r["id"] for r in raws]
    assert [name for _, _, name in inbound] == [USER_NAME, f"User {other}", USER_NAME]
    assert [m.kind for _, m, _ in inbound] == ["text", "image", "text"]


def test_several_entries_in_one_body() -> None:
    body = fm.merge(
        fm.notification([fm.text("to the first number")], phone_number_id="111"),
        fm.notification(statuses=[fm.status("wamid.OUT", "read")], phone_number_id="222"),
        fm.notification([fm.text("to the third")], phone_number_id="333", waba_id="999"),
    )
    notification = parse(body)
    assert [e.id for e in notification.entry] == [fm.WABA_ID, fm.WABA_ID, "999"]
    assert [(p, m.plain_text) for p, m, _ in notification.inbound()] == [
        ("111", "to the first number"),
        ("333", "to the third"),
    ]
    assert [(p, s.status) for p, s in notification.status_updates()] == [("222", "read")]


def test_statuses_with_conversation_pricing_and_errors() -> None:
    raws = [
        fm.status("wamid.A", "sent"),
        fm.status("wamid.A", "delivered"),
        fm.status("wamid.A", "read"),
        fm.failed("wamid.B", 131047, details="More than 24 hours have passed"),
        fm.status("wamid.C", "played"),  # added in 2026: unknown values are kept as they are
    ]
    updates = [s for _, s in parse(fm.notification(statuses=raws)).status_updates()]
    assert [s.status for s in updates] == ["sent", "delivered", "read", "failed", "played"]
    sent = updates[0]
    assert sent.recipient_id == USER_WA_ID and sent.pricing == {
        "billable": True,
        "pricing_model": "CBP",
        "category": "service",
    }
    assert sent.conversation is not None and sent.conversation["origin"]["type"] == "service"
    assert "expiration_timestamp" in sent.conversation
    (error,) = updates[3].errors
    assert (error.code, error.title) == (131047, "Re-engagement message")
    assert details(error) == "More than 24 hours have passed"
    assert updates[3].pricing is None and not updates[0].errors


def test_errors_of_the_whole_change() -> None:
    value = next(parse(fm.notification(errors=[fm.webhook_error(131000)])).values())
    assert [(e.code, e.title) for e in value.errors] == [(131000, "Something went wrong")]
    assert value.messages == [] and value.phone_number_id == PHONE_NUMBER_ID


def test_unknown_types_and_fields_are_tolerated() -> None:
    future = fm.future_message("poll", {"question": "Dogs or cats?", "options": ["d", "c"]})
    future["brand_new"] = {"nested": [1, 2]}
    payload = fm.notification([future, fm.text("still read")], statuses=[fm.status("wamid.X")])
    value = payload["entry"][0]["changes"][0]["value"]
    value["statuses"][0]["new_billing_thing"] = {"x": 1}
    value["contacts"][0]["profile"]["avatar"] = "https://example.invalid/a.png"
    value["something_else"] = 7
    payload["entry"][0]["time"] = 1_749_416_383
    payload["also_new"] = True
    inbound = list(parse(payload).inbound())
    poll = inbound[0][1]
    assert (poll.type, poll.kind, poll.plain_text, poll.media) == ("poll", "unknown", None, None)
    assert inbound[1][1].plain_text == "still read"
    account_update = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {"event": "X"}}]}],
    }
    assert list(Notification.model_validate(account_update).inbound()) == []


def test_users_known_by_username_have_no_phone_number() -> None:
    bsuid = "US.13491208655302741918"
    raw = fm.text("hi", sender=None, user_id=bsuid)
    payload = fm.notification([raw], contacts=[fm.contact(None, "Ana", user_id=bsuid)])
    _, message, name = only_message(payload)
    assert (message.from_, message.from_user_id, name) == (None, bsuid, "Ana")


def test_unicode_travels_escaped_and_numbers_become_strings() -> None:
    raw = fm.text("olá \U0001f436")
    raw["timestamp"] = 1_749_416_383  # a number where Meta documents a string
    body = fm.encode(fm.notification([raw]))
    assert body.isascii() and b"\\ud83d\\udc36" in body
    message = only_message(json.loads(body))[1]
    assert (message.plain_text, message.timestamp) == ("olá \U0001f436", "1749416383")


# --- helpers of the payload module ------------------------------------------------------


def test_graph_errors_parse_and_non_errors_do_not() -> None:
    error = parse_graph_error(fm.GraphFailure.of(130429, details="throughput reached").body)
    assert error is not None
    assert (error.code, error.type, error.message) == (
        130429,
        "OAuthException",
        "(#130429) Rate limit hit",
    )
    assert error.details == "throughput reached" and error.fbtrace_id
    bare = parse_graph_error(
        json.dumps({"error": {"message": "m", "code": "4", "error_data": "d"}})
    )
    assert bare is not None and (bare.code, bare.details) == (4, "d")
    for junk in (b"<html>502 Bad Gateway</html>", b"[]", b'{"data": []}', b""):
        assert parse_graph_error(junk) is None


def test_sha256_in_hex_or_base64() -> None:
    assert sha256_matches(JPEG, meta_sha256(JPEG, "hex"))
    assert sha256_matches(JPEG, meta_sha256(JPEG, "hex").upper())
    assert sha256_matches(JPEG, meta_sha256(JPEG, "base64"))
    assert not sha256_matches(JPEG + b"x", meta_sha256(JPEG, "hex"))
    assert not sha256_matches(JPEG + b"x", meta_sha256(JPEG, "base64"))
    for junk in (None, "", "not a hash", "z" * 64):
        assert not sha256_matches(JPEG, junk)


def test_sign_matches_an_independent_hmac() -> None:
    body, headers = fm.signed(fm.notification([fm.text("hi")]), "app-secret")
    independent = hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == fm.sign(body, "app-secret") == f"sha256={independent}"
    # The published example of another client library (hexdocs.pm/whatsapp_sdk):
    assert fm.sign(b"test", "secret") == (
        "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
    )
    assert signature_valid(body, headers["X-Hub-Signature-256"], "app-secret")
    assert not signature_valid(body, headers["X-Hub-Signature-256"], "another-secret")
    assert not signature_valid(body + b" ", headers["X-Hub-Signature-256"], "app-secret")
    assert not signature_valid(body, independent, "app-secret")  # no "sha256=" prefix
    assert not signature_valid(body, None, "app-secret")


def test_verification_query_is_what_meta_sends() -> None:
    query = fm.verification_query("my-verify-token", "1158201444")
    assert query == {
        "hub.mode": "subscribe",
        "hub.challenge": "1158201444",
        "hub.verify_token": "my-verify-token",
    }


# --- the fake Graph API over HTTP --------------------------------------------------------


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http:
        yield http


def media_info(graph: FakeMeta, client: httpx.Client, media_id: str) -> MediaInfo:
    answer = client.get(f"{graph.api_url()}/{media_id}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    return MediaInfo.model_validate_json(answer.content)


def test_media_info_points_to_the_media_host_which_wants_the_token(
    graph: FakeMeta, client: httpx.Client
) -> None:
    media_id = graph.add_media(JPEG, "image/jpeg")
    info = media_info(graph, client, media_id)
    assert (info.id, info.mime_type, info.file_size) == (media_id, "image/jpeg", len(JPEG))
    assert info.sha256 == graph.media_message(media_id)["image"]["sha256"]
    assert sha256_matches(JPEG, info.sha256)
    assert (
        urlsplit(info.url).port
        == urlsplit(graph.lookaside_url).port
        != graph.graph.server_address[1]
    )
    download = client.get(info.url, headers=AUTH)
    assert download.status_code == 200
    assert (download.content, download.headers["content-type"]) == (JPEG, "image/jpeg")
    assert client.get(info.url).status_code == 401
    assert client.get(info.url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert [s.authorization for s in graph.seen_by("lookaside")] == [
        AUTH["Authorization"],
        None,
        "Bearer wrong",
    ]


def test_media_urls_expire(graph: FakeMeta, client: httpx.Client) -> None:
    media_id = graph.add_media(JPEG, "image/jpeg")
    info = media_info(graph, client, media_id)
    graph.advance(MEDIA_URL_TTL_SECONDS - 5)
    assert client.get(info.url, headers=AUTH).status_code == 200
    graph.advance(10)
    assert client.get(info.url, headers=AUTH).status_code == 404  # what Meta documents
    fresh = media_info(graph, client, media_id)
    assert client.get(fresh.url, headers=AUTH).content == JPEG
    forged = fresh.url.replace(f"ext={int(graph.now() + MEDIA_URL_TTL_SECONDS)}", "ext=99999999999")
    assert forged != fresh.url and client.get(forged, headers=AUTH).status_code == 404


def test_a_shorter_url_lifetime_and_base64_hashes() -> None:
    fake = FakeMeta(url_ttl=30, sha256_encoding="base64").start()
    try:
        with httpx.Client(timeout=5) as http:
            media_id = fake.add_media(b"voice", "audio/ogg")
            info = media_info(fake, http, media_id)
            assert info.sha256 == meta_sha256(b"voice", "base64") and sha256_matches(
                b"voice", info.sha256
            )
            fake.advance(31)
            assert http.get(info.url, headers=AUTH).status_code == 404
    finally:
        fake.stop()


def test_token_and_id_errors_are_graph_errors(graph: FakeMeta, client: httpx.Client) -> None:
    media_id = graph.add_media(JPEG, "image/jpeg")
    wrong = client.get(f"{graph.api_url()}/{media_id}", headers={"Authorization": "Bearer nope"})
    error = parse_graph_error(wrong.content)
    assert wrong.status_code == 401 and error is not None and error.code == 190
    unknown = client.get(f"{graph.api_url()}/404404404", headers=AUTH)
    error = parse_graph_error(unknown.content)
    assert unknown.status_code == 400 and error is not None
    assert (error.code, error.error_subcode, error.type) == (100, 33, "GraphMethodException")
    info = media_info(graph, client, media_id)
    graph.expire_token()
    expired = client.get(f"{graph.api_url()}/{media_id}", headers=AUTH)
    error = parse_graph_error(expired.content)
    assert expired.status_code == 401 and error is not None
    assert (error.code, error.error_subcode) == (190, 463)
    assert client.get(info.url, headers=AUTH).status_code == 401


def test_a_redirect_keeps_the_token_off_the_other_host(
    graph: FakeMeta, client: httpx.Client
) -> None:
    media_id = graph.add_media(JPEG, "image/jpeg", redirect=True)
    info = media_info(graph, client, media_id)
    download = client.get(info.url, headers=AUTH, follow_redirects=True)
    assert download.content == JPEG and [r.status_code for r in download.history] == [302]
    assert [s.authorization for s in graph.seen_by("lookaside")] == [AUTH["Authorization"]]
    cdn = graph.seen_by("cdn")
    assert len(cdn) == 1 and cdn[0].authorization is None


def test_a_declared_hash_that_does_not_match_the_bytes(
    graph: FakeMeta, client: httpx.Client
) -> None:
    media_id = graph.add_media(JPEG, "image/jpeg", declared_sha256=meta_sha256(b"something else"))
    info = media_info(graph, client, media_id)
    assert info.sha256 == graph.media_message(media_id)["image"]["sha256"]
    data = client.get(info.url, headers=AUTH).content
    assert data == JPEG and not sha256_matches(data, info.sha256)


def test_media_messages_take_their_kind_from_the_type(graph: FakeMeta) -> None:
    kinds = {
        graph.add_media(b"a", "image/png"): "image",
        graph.add_media(b"b", "image/webp"): "sticker",
        graph.add_media(b"c", "audio/ogg; codecs=opus"): "audio",
        graph.add_media(b"d", "video/mp4"): "video",
        graph.add_media(b"e", "application/pdf"): "document",
    }
    for media_id, kind in kinds.items():
        message = only_message(fm.notification([graph.media_message(media_id)]))[1]
        assert (message.kind, message.media.id) == (kind, media_id)


def send(
    graph: FakeMeta, client: httpx.Client, body: dict[str, Any], phone: str = PHONE_NUMBER_ID
) -> httpx.Response:
    return client.post(f"{graph.api_url()}/{phone}/messages", json=body, headers=AUTH)


def text_message(body: str, to: str = "+1 650-555-1234") -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": body},
    }


def test_a_send_is_recorded_and_answered_as_meta_does(
    graph: FakeMeta, client: httpx.Client
) -> None:
    answer = send(graph, client, text_message("your photos"))
    assert answer.status_code == 200
    response = SendResponse.model_validate_json(answer.content)
    assert response.messaging_product == "whatsapp"
    assert response.contacts == [{"input": "+1 650-555-1234", "wa_id": "16505551234"}]
    assert response.message_id is not None and response.message_id.startswith("wamid.")
    (sent,) = graph.sends_to("+1 650-555-1234")
    assert (sent.text, sent.phone_number_id, sent.message_id) == (
        "your photos",
        PHONE_NUMBER_ID,
        response.message_id,
    )
    image = {"messaging_product": "whatsapp", "to": "16505551234", "type": "image",
             "image": {"link": "https://example.invalid/dog.jpg", "caption": "a dog"}}  # fmt: skip
    assert send(graph, client, image).status_code == 200 and len(graph.sent) == 2


FAILURES = [
    (GraphFailure.of(130429), 400, 130429),
    (GraphFailure.of(131056), 400, 131056),
    (GraphFailure.of(131047), 400, 131047),
    (GraphFailure.of(190), 401, 190),
    (GraphFailure.of(100), 400, 100),
    (GraphFailure.of(131000), 500, 131000),
    (GraphFailure.of(131016), 503, 131016),
    (GraphFailure.raw(502, b"<html>Bad Gateway</html>"), 502, None),
]


@pytest.mark.parametrize(("failure", "status", "code"), FAILURES)
def test_scripted_failures_then_success(
    graph: FakeMeta, client: httpx.Client, failure: GraphFailure, status: int, code: int | None
) -> None:
    graph.send_failures.append(failure)
    first = send(graph, client, text_message("one"))
    assert (first.status_code, error_code(first)) == (status, code)
    assert send(graph, client, text_message("two")).status_code == 200
    assert [s.text for s in graph.sent] == ["two"] and graph.send_attempts == 2


def test_refused_sends(graph: FakeMeta, client: httpx.Client) -> None:
    wrong = client.post(
        f"{graph.api_url()}/{PHONE_NUMBER_ID}/messages",
        json=text_message("x"),
        headers={"Authorization": "Bearer nope"},
    )
    assert (wrong.status_code, error_code(wrong)) == (401, 190)
    graph.mark_unknown("999999")
    unknown = send(graph, client, text_message("x"), phone="999999")
    error = parse_graph_error(unknown.content)
    assert unknown.status_code == 400 and error is not None
    assert (error.code, error.error_subcode) == (100, 33)
    too_long = send(graph, client, text_message("x" * (TEXT_BODY_MAX_CHARS + 1)))
    assert (too_long.status_code, error_code(too_long)) == (400, 100)
    assert send(graph, client, text_message("x" * TEXT_BODY_MAX_CHARS)).status_code == 200

    def image(caption: str, **media: str) -> dict[str, Any]:
        return {"messaging_product": "whatsapp", "to": "1", "type": "image",
                "image": {"caption": caption, **media}}  # fmt: skip

    assert send(graph, client, image("c" * CAPTION_MAX_CHARS, id="1")).status_code == 200
    assert send(graph, client, image("c" * (CAPTION_MAX_CHARS + 1), id="1")).status_code == 400
    assert (
        send(graph, client, image("c", id="1", link="https://example.invalid/x")).status_code == 400
    )
    assert send(graph, client, {**text_message("x"), "messaging_product": "sms"}).status_code == 400
    assert [s.text for s in graph.sent] == ["x" * TEXT_BODY_MAX_CHARS, None]
