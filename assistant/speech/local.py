"""Voice notes transcribed on this machine: Whisper through faster-whisper (CTranslate2,
int8 on CPU), no account needed.

Audio as WhatsApp sends it (OGG/Opus voice notes, AAC/M4A, MP3, AMR) and as the simulator
records it (WAV, WebM) is decoded in-process by PyAV (faster-whisper's own decoder
library) within the budget of `assistant.speech.audio`: mono 16 kHz, stopping as soon as a
note passes `max_seconds`, so an hour-long file costs no more than the limit.

Choices for short notes, from trials with synthetic speech (see the README):
- The user's language (from their messages) is passed to Whisper: its language detection
  on a two-second note is unreliable (most synthetic Portuguese phrases came out as English,
  even choosing between the two languages only). English spoken to a Portuguese speaker's
  assistant is still transcribed in English by Whisper.
- A prompt: the words people use with a photo catalog, in that language, then the user's
  own recent descriptions (what they will ask for by voice is mostly what they saved).
- No voice-activity filter on notes up to 30 s: Silero's default threshold dropped whole
  synthetic phrases; longer notes use it (lower threshold, 1 s of silence) to skip pauses.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from assistant.config import Settings
from assistant.speech.audio import SAMPLE_RATE, AudioTooLong, CorruptAudio, decode
from assistant.speech.base import TranscriptionError
from assistant.speech.weights import ModelUnavailable, local_whisper_model

log = logging.getLogger(__name__)

__all__ = ["SAMPLE_RATE", "AudioTooLong", "CorruptAudio", "LocalWhisperTranscriber", "decode"]

# The vocabulary of what people say to a photo catalog, as Whisper's prompt: short notes
# give the small model little context, and without it "fotos do cachorro" came out as
# "partos do cashovo". Words only, no test phrases.
DOMAIN_PROMPTS = {
    "pt": "Assistente de fotos no WhatsApp: mostre, procure, salve, apague fotos e imagens;"
    " recibos, notas fiscais, boletos, contas, documentos.",
    "en": "WhatsApp photo assistant: show, find, save, delete photos and pictures;"
    " receipts, invoices, bills, documents.",
}
VAD_AFTER_SECONDS = 30.0
# Loudest 100 ms of a note below this (dBFS): nothing was said. Whisper's own no-speech
# check is off (see `transcribe`), so silence is decided here, before the model runs.
SILENCE_DBFS = -50.0
# Windows of 100 ms above it that speech needs ("oi" has 3). A click on the microphone,
# once encoded, spreads over as many and reaches Whisper: noise is a known limit.
SPEECH_WINDOWS = 2
VOCABULARY_CHARS = 400


def is_silent(samples: np.ndarray) -> bool:
    """Fewer than SPEECH_WINDOWS tenths of a second louder than SILENCE_DBFS: an empty
    note, a hiss. Noise as loud as speech still reaches Whisper (a known limit)."""
    window = SAMPLE_RATE // 10
    usable = samples[: samples.size - samples.size % window].reshape(-1, window)
    if usable.size == 0:
        return True
    rms = np.sqrt(np.mean(np.square(usable, dtype=np.float64), axis=1))
    loud = int(np.count_nonzero(rms > 10 ** (SILENCE_DBFS / 20)))
    return loud < SPEECH_WINDOWS


def prompt_for(language: str | None, vocabulary: str) -> str | None:
    """The domain words, then the user's own (most recent last: Whisper weighs the end of
    its prompt most), within the ~200 tokens a prompt may take."""
    parts = [DOMAIN_PROMPTS.get(language or "", ""), vocabulary[-VOCABULARY_CHARS:]]
    return " ".join(p for p in parts if p) or None


def echoes_prompt(text: str, domain: str, vocabulary: str = "") -> bool:
    """Whether Whisper gave back its prompt instead of the note: three or more words of
    the fixed domain prompt in a row, or prompt words going round in a loop ("notas
    fiscais notas fiscais notas fiscais"). A note that repeats one of the user's own
    descriptions once ("nota fiscal da farmácia") is a real request, not an echo."""
    said = re.findall(r"\w+", text.lower())
    if not said:
        return False
    fixed = re.findall(r"\w+", domain.lower())
    n = len(said)
    if n >= 3 and any(fixed[i : i + n] == said for i in range(len(fixed) - n + 1)):
        return True
    known = set(fixed) | set(re.findall(r"\w+", vocabulary.lower()))
    return n >= 4 and n >= 2 * len(set(said)) and set(said) <= known


class LocalWhisperTranscriber:
    """`Transcriber` on faster-whisper; the model loads on first use, once per process."""

    def __init__(
        self,
        model: str | Callable[[], str],
        *,
        threads: int = 0,
        max_seconds: float = 300.0,
        beam_size: int = 5,
    ):
        # A directory, a size name faster-whisper downloads, or a function that makes the
        # directory (the pinned packages, joined and verified on first use).
        self.model_ref = model
        self.threads = threads
        self.max_seconds = max_seconds
        self.beam_size = beam_size
        label = model if isinstance(model, str) else "base"
        self.name = f"whisper:{label.rstrip('/').rsplit('/', 1)[-1]}"
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # CTranslate2 already uses every thread given

    def load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                ref = self.model_ref if isinstance(self.model_ref, str) else self.model_ref()
                try:
                    self._model = WhisperModel(
                        ref,
                        device="cpu",
                        compute_type="int8",
                        cpu_threads=self.threads,
                    )
                except Exception as exc:  # missing files, no network for a size name...
                    raise ModelUnavailable(
                        f"Whisper model '{ref}' could not be loaded: {exc}"
                    ) from exc
            return self._model

    def transcribe(
        self, audio: bytes, content_type: str, language: str | None, vocabulary: str = ""
    ) -> str:
        samples = decode(audio, self.max_seconds)
        if is_silent(samples):
            return ""
        model = self.load()
        seconds = samples.size / SAMPLE_RATE
        try:
            with self._run_lock:
                # The user's language decides (see the module's docstring).
                chosen = language or None
                segments, _ = model.transcribe(
                    samples,
                    language=chosen,
                    beam_size=self.beam_size,
                    # No retries at higher temperatures: they cost seconds and, on short
                    # notes, bring made-up words rather than better ones.
                    temperature=0.0,
                    initial_prompt=prompt_for(chosen, vocabulary),
                    # Whisper drops a segment it scores as "no speech" with a low
                    # likelihood: on short synthetic notes that dropped whole phrases (two
                    # of 22 in Portuguese, e.g. "essa é a nota fiscal da farmácia"). Silence
                    # is found by `is_silent` instead.
                    no_speech_threshold=None,
                    condition_on_previous_text=False,
                    without_timestamps=True,
                    vad_filter=seconds > VAD_AFTER_SECONDS,
                    vad_parameters={"threshold": 0.35, "min_silence_duration_ms": 1000},
                )
                text = " ".join(segment.text.strip() for segment in segments)
                if echoes_prompt(text, DOMAIN_PROMPTS.get(chosen or "", ""), vocabulary):
                    text = ""  # the prompt came back, not the note: heard nothing
        except Exception as exc:  # an engine error: the user is told, the audio is kept
            raise TranscriptionError(f"{type(exc).__name__}: {exc}") from exc
        return " ".join(text.split())


def build(settings: Settings, required: bool) -> LocalWhisperTranscriber | None:
    """TRANSCRIBER=local (required: a missing directory is a ConfigError), or auto when a
    model is at hand (see `weights.local_whisper_model`)."""
    model = local_whisper_model(settings, required)
    if model is None:
        return None
    return LocalWhisperTranscriber(
        model, threads=settings.whisper_threads, max_seconds=settings.max_audio_seconds
    )
