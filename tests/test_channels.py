"""The channel seam: the queue, worker, outbox and core know channels only through
`assistant/channels/base.py`, and replies go out through the channel a message came in on.

A second channel here is a recording one written in the test (the `Channel` protocol, no
platform), beside the real Twilio channel against its fake."""

from __future__ import annotations

import ast
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter

from assistant.channels import Channel, SendError, SendResult
from assistant.factory import Services
from assistant.models import InboundMedia, InboundMessage
from assistant.ops.samples import sample_image
from tests.fakes.twilio_server import FakeTwilio
from tests.helpers.web import app_client
from tests.helpers.whatsapp import PUBLIC, bodies, drain, sign, webhook_form

ALICE, BOB = "+5511944440001", "+5511944440002"
ROOT = Path(__file__).resolve().parent.parent


class Recording:
    """A channel that keeps what it is asked to send; `fail` scripts the next sends."""

    def __init__(self, name: str = "echo", text_limit: int = 300):
        self.name = name
        self.text_limit = text_limit
        self.webhooks: frozenset[str] = frozenset()
        self.sent: list[tuple[str, str, str | None]] = []
        self.fail: list[SendError] = []
        self.media: dict[str, bytes] = {}
        self.asked: list[tuple[str, str]] = []

    @property
    def missing(self) -> str | None:
        return None

    def router(self, web: Any) -> APIRouter:
        return APIRouter()  # its messages are put in the inbox by the test

    def fetch_media(self, item: InboundMedia) -> tuple[bytes, str | None]:
        return self.media[item.media_id or ""], item.content_type

    def send(self, to: str, body: str, media_url: str | None = None) -> SendResult:
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append((to, body, media_url))
        return SendResult(sid=f"echo-{len(self.sent)}", status="accepted")

    def find_sent(
        self, to: str, body: str, with_media: bool, since: datetime, exclude: set[str]
    ) -> str | None:
        self.asked.append((to, body))
        return None


@pytest.fixture
def echo(wa: Services) -> Recording:
    channel = Recording()
    wa.channels.by_name[channel.name] = channel
    return channel


def via(channel: str, sender: str, text: str, sid: str, **extra: Any) -> InboundMessage:
    return InboundMessage(sender=sender, text=text, channel=channel, message_id=sid, **extra)


def test_the_recording_channel_satisfies_the_protocol() -> None:
    channel: Channel = Recording()  # mypy checks the structure; this checks it runs
    assert channel.missing is None and channel.text_limit == 300


def test_replies_go_out_through_the_channel_the_message_came_in_on(
    wa: Services, fake: FakeTwilio, echo: Recording
) -> None:
    wa.inbox.enqueue(ALICE, via("echo", ALICE, "ajuda", "m-1"), None)
    client = app_client(wa)
    form = webhook_form(BOB, "ajuda")
    signature = sign(fake.auth_token, f"{PUBLIC}/whatsapp", form)
    assert client.post("/whatsapp", data=form, headers={"X-Twilio-Signature": signature}).is_success
    drain(wa)
    # Alice wrote on "echo": her reply went there, to her number as it is.
    assert echo.sent and {to for to, _, _ in echo.sent} == {ALICE}
    assert bodies(fake, ALICE) == []
    # Bob wrote through Twilio: his reply went to Twilio, in Twilio's address format.
    assert bodies(fake, BOB) and all(to != BOB for to, _, _ in echo.sent)
    rows = wa.db.fetchall("SELECT channel, recipient, status FROM outbox ORDER BY id")
    assert {(r["channel"], r["recipient"], r["status"]) for r in rows} == {
        ("echo", ALICE, "sent"),
        ("twilio", BOB, "sent"),
    }
    inbox = wa.db.fetchall("SELECT channel, owner FROM inbox ORDER BY id")
    assert [(r["channel"], r["owner"]) for r in inbox] == [("echo", ALICE), ("twilio", BOB)]


def test_a_message_id_is_unique_within_its_channel_only(wa: Services, echo: Recording) -> None:
    assert wa.inbox.enqueue(ALICE, via("echo", ALICE, "oi", "same-id"), None)
    assert not wa.inbox.enqueue(ALICE, via("echo", ALICE, "oi", "same-id"), None)  # a retry
    assert wa.inbox.enqueue(ALICE, via("twilio", ALICE, "oi", "same-id"), None)
    assert wa.db.scalar("SELECT count(*) FROM inbox") == 2


def test_replies_are_split_to_the_channels_text_limit(wa: Services, echo: Recording) -> None:
    wa.inbox.enqueue(ALICE, via("echo", ALICE, "ajuda", "m-1"), None)
    drain(wa)
    assert len(echo.sent) >= 2  # the help text is longer than 300 characters
    assert all(len(body) <= 300 for _, body, _ in echo.sent)


def test_media_is_fetched_from_the_channel_it_came_in_on(wa: Services, echo: Recording) -> None:
    echo.media["photo-1"] = sample_image("echo photo")
    media = [InboundMedia(media_id="photo-1", content_type="image/jpeg")]
    wa.inbox.enqueue(ALICE, via("echo", ALICE, "Gato no sofá", "m-1", media=media), None)
    drain(wa)
    (entry,) = wa.catalog.recent(ALICE).entries
    assert entry.description == "Gato no sofá" and len(entry.images) == 1


def test_a_channels_send_errors_are_classified(wa: Services, echo: Recording) -> None:
    echo.fail = [
        SendError("429 rate limit", retryable=True),
        SendError("no answer", retryable=False, uncertain=True),
    ]
    wa.inbox.enqueue(ALICE, via("echo", ALICE, "oi", "m-1"), None)
    # First try: rate limited, backed off (RETRY_BASE_SECONDS=0); second: no answer, so
    # uncertain; the worker's housekeeping asks the channel, which never had it: sent
    # again, once.
    drain(wa)
    body = wa.db.scalar("SELECT body FROM outbox")
    assert echo.asked == [(ALICE, body)]
    assert wa.db.scalar("SELECT status FROM outbox") == "sent" and len(echo.sent) == 1

    echo.fail = [SendError("131047: outside the 24-hour window", retryable=False)]
    wa.inbox.enqueue(ALICE, via("echo", ALICE, "oi de novo", "m-2"), None)
    drain(wa)
    refused = wa.db.fetchone("SELECT status, last_error FROM outbox ORDER BY id DESC LIMIT 1")
    assert refused == {"status": "failed", "last_error": "131047: outside the 24-hour window"}


def test_a_message_from_no_configured_channel_is_answered_but_not_sent(wa: Services) -> None:
    wa.inbox.enqueue(ALICE, via("gone", ALICE, "oi", "m-1"), None)
    drain(wa)
    row = wa.db.fetchone("SELECT status, last_error FROM outbox")
    assert row == {"status": "failed", "last_error": "no channel 'gone' is configured"}


def test_the_queue_worker_and_core_know_no_particular_channel() -> None:
    """Only the channels package and the wiring name a platform's module."""
    allowed = {"assistant/channels", "assistant/factory.py"}
    offenders = []
    for path in sorted((ROOT / "assistant").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if any(relative.startswith(a) for a in allowed):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [
                f"{relative}: {n}"
                for n in names
                if n.startswith(("assistant.channels.twilio", "assistant.channels.meta"))
            ]
    assert offenders == []
