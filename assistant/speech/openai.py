"""Voice notes transcribed by OpenAI (or a compatible server) through the official SDK."""

from __future__ import annotations

import logging

import openai
from openai import OpenAI

from assistant.config import ConfigError, Settings
from assistant.errors import ServiceBusy
from assistant.llm import TRANSIENT_OPENAI, openai_client
from assistant.speech.base import TranscriptionError, UnsupportedAudio

log = logging.getLogger(__name__)


# What OpenAI's transcription endpoint accepts (WhatsApp voice notes are OGG/Opus).
OPENAI_AUDIO = {
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/wav": "wav",
    "audio/webm": "webm",
}


OPENAI_MAX_AUDIO_BYTES = 25 * 1024 * 1024
VOCABULARY_CHARS = 400


class OpenAITranscriber:
    def __init__(self, client: OpenAI, model: str):
        self.client = client
        self.model = model
        self.name = f"openai:{model}"
        self.content_types = frozenset(OPENAI_AUDIO)  # the core refuses others up front

    def transcribe(
        self, audio: bytes, content_type: str, language: str | None, vocabulary: str = ""
    ) -> str:
        ext = OPENAI_AUDIO.get(content_type)
        if ext is None:
            raise UnsupportedAudio(content_type)
        if len(audio) > OPENAI_MAX_AUDIO_BYTES:
            raise UnsupportedAudio(f"{len(audio)} bytes")
        try:
            result = self.client.audio.transcriptions.create(
                model=self.model,
                file=(f"voice.{ext}", audio, content_type),
                language=language or openai.omit,
                prompt=vocabulary[:VOCABULARY_CHARS] or openai.omit,
            )
        except TRANSIENT_OPENAI as exc:
            raise ServiceBusy(f"transcription: {type(exc).__name__}: {exc}") from exc
        except openai.OpenAIError as exc:
            raise TranscriptionError(f"{type(exc).__name__}: {exc}") from exc
        return str(result.text)


def build(settings: Settings, required: bool) -> OpenAITranscriber | None:
    """OpenAI's transcription when a key or base URL is set (TRANSCRIBER=openai needs one)."""
    client = openai_client(settings)
    if client is None:
        if required:
            raise ConfigError("TRANSCRIBER=openai needs OPENAI_API_KEY or OPENAI_BASE_URL")
        return None
    return OpenAITranscriber(client, settings.openai_transcribe_model)
