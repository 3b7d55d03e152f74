"""What every brain receives and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from assistant.catalog_images import StoredImage
from assistant.models import Exchange, ImageRecord, Language
from assistant.tools import Toolbox, ToolCall


@dataclass
class Turn:
    """One user message, after media were stored and audio transcribed."""

    owner: str
    text: str
    language: Language
    images: list[StoredImage] = field(default_factory=list)
    image_bytes: dict[int, bytes] = field(default_factory=dict)
    transcript: str | None = None
    profile_name: str | None = None
    history: list[Exchange] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    # Text the OCR read in photos that came without a caption (image id -> text): a hint
    # for a model's caption.
    photo_texts: dict[int, str] = field(default_factory=dict)
    # The message asks for photos similar to its photo ("parecidas"): the photo is the
    # question, so it is not saved (assistant/similar/intent.py).
    similar_query: bool = False


@dataclass
class BrainReply:
    text: str
    images: list[tuple[ImageRecord, str]] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    brain: str = ""


class Brain(Protocol):
    name: str

    def respond(self, turn: Turn, tools: Toolbox) -> BrainReply: ...


def uses_model(brain: Brain) -> bool:
    """Whether this brain answers with a model, spending a user's daily tokens and the
    shared budget. One that does not is kept when they run out, and saves a photo sent
    alone under the text read in it (a model gets that text as a hint for its caption).

    Each brain answers for itself with a `uses_model` attribute; one without it is taken
    to use a model (the offline rules, which do not, say so)."""
    return bool(getattr(brain, "uses_model", True))


def shown(tools: Toolbox) -> list[tuple[ImageRecord, str]]:
    """The photos this message's tool calls chose to send: each once, at most
    `tools.max_images`, in the order they were found (what a model-driven brain sends)."""
    images: list[tuple[ImageRecord, str]] = []
    for call in tools.calls:
        for image, caption in call.result.send:
            if len(images) < tools.max_images and all(image.id != i.id for i, _ in images):
                images.append((image, caption))
    return images
