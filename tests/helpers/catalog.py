"""Talking to the assistant and filling the catalog in tests, the way channels do."""

from __future__ import annotations

from assistant.factory import Services
from assistant.media import inspect_image
from assistant.models import InboundMedia, InboundMessage, Reply
from assistant.ops.samples import sample_image


def send(services: Services, sender: str, text: str = "", *media: bytes) -> list[Reply]:
    """One message through `Assistant.handle` (photos and voice notes as bytes)."""
    return services.assistant.handle(
        InboundMessage(sender=sender, text=text, media=[InboundMedia(data=m) for m in media])
    )


def joined(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def save_entry(services: Services, owner: str, text: str, data: bytes | None = None) -> int:
    """A new entry with one photo (a distinct sample unless given); returns its id."""
    data = data if data is not None else sample_image(f"{owner}:{text}")
    img = services.catalog.store_image(owner, data, inspect_image(data, 10**7))
    return services.catalog.create_entry(owner, text, [img.image.id]).id


def found_texts(services: Services, owner: str, query: str) -> list[str]:
    return [e.description for e in services.catalog.search(owner, query).entries]


class SpyTranscriber:
    """A transcriber that records the notes that reached it (to prove none did)."""

    def __init__(self, name: str = "spy", text: str = "mostre fotos"):
        self.name = name
        self.text = text
        self.heard: list[bytes] = []

    def transcribe(self, audio: bytes, *_args: object, **_kw: object) -> str:
        self.heard.append(audio)
        return self.text
