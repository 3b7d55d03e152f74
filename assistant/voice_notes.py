"""A voice note heard for its message: transcribed within the user's quota of voice
minutes, or the notice that says why not (a key of assistant/phrases and its values)."""

from __future__ import annotations

import logging
from typing import Any

from assistant import metrics
from assistant.access.limits import Quota
from assistant.models import Language
from assistant.speech import (
    AudioTooLong,
    CorruptAudio,
    EngineUnavailable,
    Transcriber,
    TranscriptionError,
    UnsupportedAudio,
    accepts,
    probe,
)

log = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def transcribe(
    transcriber: Transcriber | None,
    audio: tuple[bytes, str],
    language: Language,
    vocabulary: str,
    max_seconds: float,
    quota: Quota | None = None,
) -> tuple[str | None, tuple[str, dict[str, Any]] | None]:
    """(the text heard or None, a notice or None) for a voice note's (bytes, type)."""
    if transcriber is None:
        return None, ("voice_unavailable", {})
    data, content_type = audio
    if not accepts(transcriber, content_type):
        return None, ("voice_unsupported", {})  # e.g. AMR for OpenAI: not even decoded
    try:
        # Every engine, a paid one included, gets only notes that passed the budget
        # (codec, rate, real duration): see assistant.speech.audio.
        seconds = probe(data, max_seconds).seconds
        left = quota.voice_seconds_left() if quota is not None else None
        if quota is not None and left is not None and seconds > left:
            limit = f"{quota.limits.voice_minutes_per_day:g}"
            return None, ("limit_voice", {"limit": limit})
        if quota is not None:
            quota.used_voice_seconds += seconds
        with metrics.timed(metrics.TRANSCRIPTION_SECONDS.labels(transcriber.name)):
            text = transcriber.transcribe(data, content_type, language, vocabulary).strip()
    except AudioTooLong as exc:
        log.info("voice note too long: %s", exc)
        lengths = {"heard": _duration(exc.seconds), "limit": _duration(exc.limit)}
        return None, ("voice_too_long", lengths)
    except CorruptAudio as exc:
        log.info("voice note not decodable: %s", exc)
        return None, ("voice_corrupt", {})
    except UnsupportedAudio as exc:
        log.info("audio not transcribable: %s", exc)
        return None, ("voice_unsupported", {})
    except EngineUnavailable as exc:  # whichever engine: e.g. no Whisper model here
        log.error("voice notes cannot be transcribed: %s", exc)
        return None, ("voice_no_model", {})
    except TranscriptionError:
        log.exception("transcription failed")
        return None, ("voice_failed", {})
    return (text or None), (None if text else ("voice_silent", {}))
