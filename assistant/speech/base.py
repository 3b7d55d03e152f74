"""The `Transcriber` interface every speech engine implements, and its errors."""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)


class TranscriptionError(Exception):
    """The service could not transcribe (it may work on a retry)."""


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
