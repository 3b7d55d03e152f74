"""The dev set's dialogues, played end to end over Meta's Cloud API channel: each message
is a signed notification to /meta/webhook (photos and voice notes as media on the fake
Graph API), the worker answers it, and the replies are what the fake Graph API was asked
to send (images fetched back through their links and recognised by their bytes)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from assistant.factory import Services
from assistant.models import InboundMedia, OutMedia, Reply
from assistant.ops.evaluate_dialogues import run_dialogue
from assistant.ops.sandbox import Sandbox
from tests.fakes import meta_server as meta
from tests.fakes.meta_server import FakeMeta
from tests.helpers.web import app_client
from tests.helpers.whatsapp import drain
from tests.test_meta_channel import deliver, meta_env

DIALOGUES = Path(__file__).parent / "data" / "dialogues_dev.yaml"


def over_meta(services: Services, graph: FakeMeta):  # type: ignore[no-untyped-def]
    client = app_client(services)

    def exchange(sender: str, text: str, media: list[InboundMedia]) -> list[Reply]:
        wa_id = sender.lstrip("+")
        before = len(graph.sends_to(wa_id))
        if media:
            messages = []
            for i, item in enumerate(media):
                assert item.data is not None
                media_id = graph.add_media(item.data, item.content_type or "image/jpeg")
                caption = {"caption": text} if text and i == 0 else {}
                built = graph.media_message(media_id, sender=wa_id, **caption)
                messages.append(built)
        else:
            messages = [meta.text(text, sender=wa_id)]
        # WhatsApp sends a photo album as one message per photo, the caption on the first.
        for message in messages:
            assert deliver(client, meta.notification([message])).status_code == 200
            drain(services)
        replies = []
        for sent in graph.sends_to(wa_id)[before:]:
            if sent.body["type"] == "image":
                link = sent.body["image"]["link"]
                parts = urlsplit(link)
                data = client.get(f"{parts.path}?{parts.query}").content
                out = OutMedia(
                    key="", content_type="image/jpeg", sha256=hashlib.sha256(data).hexdigest()
                )
                replies.append(Reply(text=sent.body["image"].get("caption", ""), media=[out]))
            else:
                replies.append(Reply(text=sent.text or ""))
        return replies

    return exchange


def test_the_dev_dialogues_pass_over_metas_cloud_api(sandbox: Sandbox, graph: FakeMeta) -> None:
    dialogues = yaml.safe_load(DIALOGUES.read_text(encoding="utf-8"))["dialogues"]
    report = io.StringIO()
    for dialogue in dialogues:
        services = sandbox.fresh(**meta_env(graph))
        try:
            failures = run_dialogue(services, dialogue, over_meta(services, graph))
        finally:
            services.close()
        for failure in failures:
            print(f"{dialogue['name']}: {failure}", file=report)
    assert report.getvalue() == ""
    assert len(graph.sent) > len(dialogues)  # every dialogue was answered through Meta
