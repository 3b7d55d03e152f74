"""The `Transcriber` interface every speech engine implements, and the errors every
engine maps its own failures to (so the core handles any engine without knowing it)."""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)


class TranscriptionError(Exception):
    """The service could not transcribe (it may work on a retry)."""


class EngineUnavailable(TranscriptionError):
    """The engine cannot run here at all (no model, a model failing its checksum): no
    voice note will be heard until an operator acts, so the user is told so."""


class UnsupportedAudio(Exception):
    """A format or size the transcriber cannot take: the user is told, nothing retried."""


class Transcriber(Protocol):
    name: str

    def transcribe(
        self, audio: bytes, content_type: str, language: str | None, vocabulary: str = ""
    ) -> str:
        """`language`: the user's, as a hint. `vocabulary`: words this user is likely to
        say (their own descriptions), to bias recognition toward them."""
        ...


def accepts(transcriber: Transcriber, content_type: str) -> bool:
    """Whether this engine takes audio of this type. An engine that takes only some (a
    service's list) declares them in `content_types`, and other notes are refused before
    they are even decoded; one without it takes whatever `speech.audio` decodes."""
    accepted: frozenset[str] | None = getattr(transcriber, "content_types", None)
    return accepted is None or content_type in accepted
