"""`assistant evaluate dialogues FILE.yaml`: scripted conversations played against the
assistant on fresh databases, each step's replies and catalog checked against what the
file expects. A channel's tests play the same dialogues through its own webhook."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import ServiceBusy
from assistant.factory import Services
from assistant.media import sha256_hex
from assistant.models import InboundMedia, InboundMessage, Reply
from assistant.ops.evaluate_search import index_like_production
from assistant.ops.samples import sample_image, sample_wav, speak
from assistant.ops.sandbox import Sandbox
from assistant.speech import LocalWhisperTranscriber

DEFAULT_SENDER = "+5511900000001"


def voice_note(services: Services, words: str, lang: str) -> InboundMedia:
    """The words of a voice note: real speech (espeak-ng, OGG/Opus like WhatsApp) when a
    local transcriber listens, so dialogues exercise transcription end to end; a tone
    otherwise (nothing would listen to the speech)."""
    if isinstance(services.assistant.transcriber, LocalWhisperTranscriber):
        return InboundMedia(data=speak(words, lang), content_type="audio/ogg")
    return InboundMedia(data=sample_wav(words), content_type="audio/wav")


# One message and its replies: (sender, text, media) -> replies. In-process by default; a
# channel's tests play the same dialogues through its webhook, worker and sends.
Exchange = Callable[[str, str, list[InboundMedia]], list[Reply]]


def run_dialogue(
    services: Services, dialogue: dict[str, Any], exchange: Exchange | None = None
) -> list[str]:
    """Play one dialogue; returns the failed expectations (empty when it passed)."""

    def in_process(sender: str, text: str, media: list[InboundMedia]) -> list[Reply]:
        message = InboundMessage(sender=sender, text=text, media=media, channel="evaluate")
        return services.assistant.handle(message)

    exchange = exchange or in_process
    failures: list[str] = []
    names_by_sha: dict[str, str] = {}
    for number, step in enumerate(dialogue.get("steps", []), start=1):
        # Between messages the background indexer has read and embedded what came in:
        # every step sees the search users get.
        index_like_production(services)
        send = step.get("send", {})
        sender = send.get("from", DEFAULT_SENDER)
        media = []
        for name in send.get("images", []):
            data = sample_image(name)
            names_by_sha[sha256_hex(data)] = name
            media.append(InboundMedia(data=data, content_type="image/jpeg"))
        if "audio" in send:
            media.append(voice_note(services, send["audio"], send.get("lang", "pt")))
        replies = exchange(sender, send.get("text", ""), media)
        failures += [
            f"step {number}: {f}"
            for f in check_step(services, sender, replies, step.get("expect", {}), names_by_sha)
        ]
    return failures


def check_step(
    services: Services,
    sender: str,
    replies: list[Reply],
    expect: dict[str, Any],
    names_by_sha: dict[str, str],
) -> list[str]:
    text = "\n".join(r.text for r in replies)
    sent = [m for r in replies for m in r.media]
    failures = []
    if "reply_matches" in expect and not re.search(expect["reply_matches"], text, re.I):
        failures.append(f"reply does not match /{expect['reply_matches']}/: {text!r}")
    if "reply_not_matches" in expect and re.search(expect["reply_not_matches"], text, re.I):
        failures.append(f"reply matches /{expect['reply_not_matches']}/: {text!r}")
    if "images" in expect and len(sent) != expect["images"]:
        failures.append(f"sent {len(sent)} images, expected {expect['images']}")
    if "image_names" in expect:
        got = sorted(names_by_sha.get(m.sha256, "?") for m in sent)
        if got != sorted(expect["image_names"]):
            failures.append(f"sent images {got}, expected {sorted(expect['image_names'])}")
    if "entries" in expect:
        n = services.catalog.count_entries(sender)
        if n != expect["entries"]:
            failures.append(f"{n} entries, expected {expect['entries']}")
    if "images_stored" in expect:
        n = services.catalog.count_images(sender)
        if n != expect["images_stored"]:
            failures.append(f"{n} images stored, expected {expect['images_stored']}")
    return failures


# The model settings a sandbox would otherwise take from the environment: an exported
# OPENAI_BASE_URL alone silently switched an evaluation to a model (issue #28).
NO_MODEL = {"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None}


def evaluate_dialogues(
    path: Path, sandbox: Sandbox, out: Any = sys.stdout, *, model: bool = False
) -> tuple[int, int]:
    """Play every dialogue of the file on fresh databases: with the offline rules, or with
    the model the environment configures when `model` is true."""
    dialogues = yaml.safe_load(path.read_text(encoding="utf-8"))["dialogues"]
    passed = failed = 0
    brain = None
    for dialogue in dialogues:
        # A sandbox sets no key of its own: asked for the model, it takes the environment's.
        asked = {"OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY")}
        services = sandbox.fresh(**(asked if model else NO_MODEL))
        if brain is None:
            brain = services.assistant.brain.name
            print(f"brain: {brain}", file=out)
        try:
            failures = run_dialogue(services, dialogue)
        except ServiceBusy as exc:
            # A model still busy after its retries fails this dialogue, not the run.
            failures = [f"the AI service stayed busy: {exc}"]
        finally:
            services.close()
        if failures:
            failed += 1
            print(f"FAIL {dialogue['name']}", file=out)
            for failure in failures:
                print(f"     {failure}", file=out)
        else:
            passed += 1
            print(f"ok   {dialogue['name']}", file=out)
    print(f"{passed} passed, {failed} failed", file=out)
    return passed, failed
