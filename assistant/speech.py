"""Turning voice notes into text."""

from __future__ import annotations

from typing import Protocol


class TranscriptionError(Exception):
    """The service could not transcribe (it may work on a retry)."""


class Transcriber(Protocol):
    name: str

    def transcribe(self, audio: bytes, content_type: str, language: str | None) -> str: ...
