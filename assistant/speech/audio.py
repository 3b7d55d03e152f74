"""Voice notes decoded within a budget, whatever engine hears them.

Audio is the cheapest input to weaponise: a 200-byte Ogg file holding FLAC at 10 Hz with
one 65,535-sample frame "lasts" almost two hours, and resampling that single frame to
16 kHz took the process from 475 MB to 2.4 GB. So, before any engine runs:

- only the codecs WhatsApp sends are decoded (its documented audio types: AAC, AMR, MP3,
  M4A/AAC and OGG with Opus only), plus what the browser simulator records (WAV with
  16-bit PCM, WebM/Opus). FLAC, Vorbis, ALAC and the rest are refused: no WhatsApp client
  sends them, and each is one more decoder to attack;
- the stream's sample rate (8-48 kHz, what those codecs use) and channels (mono or
  stereo) are checked from its header, and its duration from the container when it says;
- while decoding, every frame's length is added up *before* it is resampled, so a note
  stops at `max_seconds` of real audio, and memory stays within about that many seconds
  of 16 kHz samples (300 s: ~10 MB) plus one frame (a few KB for these codecs).

`probe` runs these checks and counts the duration without resampling (cheap: Opus
decodes at hundreds of times real time); the core calls it for every engine, so a note
over MAX_AUDIO_SECONDS never reaches OpenAI either.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.speech.base import UnsupportedAudio

SAMPLE_RATE = 16_000
MIN_RATE, MAX_RATE = 8_000, 48_000
MAX_CHANNELS = 2
# Codecs per container, as ffmpeg names them. WhatsApp: "audio/ogg (OPUS codecs only)",
# audio/aac, audio/amr, audio/mpeg, audio/mp4 (AAC); the simulator: WAV and WebM/Opus.
ALLOWED_CODECS: dict[str, frozenset[str]] = {
    "audio/ogg": frozenset({"opus"}),
    "audio/webm": frozenset({"opus"}),
    "audio/mp4": frozenset({"aac"}),
    "audio/aac": frozenset({"aac"}),
    "audio/mpeg": frozenset({"mp3"}),
    "audio/amr": frozenset({"amr_nb", "amr_wb"}),
    "audio/wav": frozenset({"pcm_s16le"}),
}


class AudioTooLong(UnsupportedAudio):
    """Longer than MAX_AUDIO_SECONDS (the audio is kept; the user is told)."""

    def __init__(self, seconds: float, limit: float):
        super().__init__(f"{seconds:.0f} s > {limit:.0f} s")
        self.seconds = seconds
        self.limit = limit


class CorruptAudio(UnsupportedAudio):
    """The bytes look like audio but cannot be decoded."""


class UnsupportedCodec(UnsupportedAudio):
    """A container WhatsApp uses, holding a codec or a format it never sends."""


@dataclass(frozen=True)
class AudioFacts:
    codec: str
    rate: int
    channels: int
    seconds: float


# What PyAV may open at all. Opening probes every stream of the file, decoding a frame of
# each (a 293 KB MP4 with one 10000x10000 "video" frame cost 300 MB there, before any check
# of ours): only these demuxers and decoders are allowed to run, and the probe reads little.
OPEN_OPTIONS = {
    "format_whitelist": "ogg,matroska,mov,aac,mp3,amr,amrnb,amrwb,wav",
    "codec_whitelist": "opus,aac,mp3,mp3float,amrnb,amrwb,pcm_s16le",
    "probesize": "65536",
}
# Frames per second of audio, on average: Opus frames last 2.5-60 ms (WhatsApp: 20-60 ms),
# AAC ~23 ms, MP3 ~26 ms, AMR 20 ms. 2.5 ms frames made the same note 7-10x as costly.
MAX_FRAMES_PER_SECOND = 100


def _container_type(container: Any) -> str | None:
    names = set(str(container.format.name).split(","))
    for content_type, formats in (
        ("audio/ogg", {"ogg"}),
        ("audio/webm", {"webm", "matroska"}),
        ("audio/mp4", {"mp4", "mov", "m4a", "3gp"}),
        ("audio/aac", {"aac"}),
        ("audio/mpeg", {"mp3"}),
        ("audio/amr", {"amr", "amrnb", "amrwb"}),
        ("audio/wav", {"wav"}),
    ):
        if names & formats:
            return content_type
    return None


def _check_stream(container: Any) -> Any:
    """The audio stream, after checking its codec, rate and channels from the header."""
    if not container.streams.audio:
        raise CorruptAudio("no audio stream")
    stream = container.streams.audio[0]
    kind = _container_type(container)
    codec = str(stream.codec_context.codec.canonical_name or stream.codec_context.name)
    if kind is None or codec not in ALLOWED_CODECS[kind]:
        raise UnsupportedCodec(f"{container.format.name}/{codec}")
    rate = int(stream.codec_context.sample_rate or 0)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UnsupportedCodec(f"sample rate {rate} Hz")
    channels = int(stream.codec_context.channels or 0)
    if not 1 <= channels <= MAX_CHANNELS:
        raise UnsupportedCodec(f"{channels} channels")
    return stream


def _declared_seconds(container: Any, stream: Any) -> float:
    """What the container says the note lasts (0 when it does not say)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1e6 if container.duration else 0.0


def _frames(audio: bytes, max_seconds: float) -> Iterator[tuple[Any, Any]]:
    """(stream, frame) pairs of a checked stream; AudioTooLong as soon as the frames'
    own lengths pass `max_seconds`, before the frame that passes it is used."""
    import av

    try:
        with av.open(
            io.BytesIO(audio), mode="r", metadata_errors="ignore", options=OPEN_OPTIONS
        ) as container:
            stream = _check_stream(container)
            declared = _declared_seconds(container, stream)
            if declared > max_seconds:
                raise AudioTooLong(declared, max_seconds)
            seconds = 0.0
            for count, frame in enumerate(container.decode(stream), start=1):
                rate = int(frame.sample_rate or 0)
                if not MIN_RATE <= rate <= MAX_RATE:
                    raise UnsupportedCodec(f"frame at {rate} Hz")
                seconds += frame.samples / rate
                if count > 50 and count > seconds * MAX_FRAMES_PER_SECOND:
                    raise UnsupportedCodec(f"{count} frames in {seconds:.2f} s")
                if seconds > max_seconds:
                    raise AudioTooLong(max(seconds, declared), max_seconds)
                yield stream, frame
    except UnsupportedAudio:
        raise
    except (av.FFmpegError, ValueError, IndexError, OSError, EOFError) as exc:
        raise CorruptAudio(f"{type(exc).__name__}: {exc}") from exc


def probe(audio: bytes, max_seconds: float) -> AudioFacts:
    """Codec, rate, channels and real duration, decoding without keeping anything."""
    seconds = 0.0
    facts: tuple[str, int, int] | None = None
    for stream, frame in _frames(audio, max_seconds):
        if facts is None:
            ctx = stream.codec_context
            facts = (str(ctx.codec.canonical_name), int(ctx.sample_rate), int(ctx.channels))
        seconds += frame.samples / frame.sample_rate
    if facts is None:
        raise CorruptAudio("no audio frames")
    return AudioFacts(*facts, seconds=seconds)


def decode(audio: bytes, max_seconds: float) -> np.ndarray:
    """Mono float32 samples at 16 kHz; AudioTooLong past `max_seconds`, CorruptAudio when
    the container or stream cannot be decoded, UnsupportedCodec for what WhatsApp never
    sends."""
    import av

    chunks: list[np.ndarray] = []
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    try:
        for _stream, frame in _frames(audio, max_seconds):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):  # flush
            chunks.append(out.to_ndarray().reshape(-1))
    except UnsupportedAudio:
        raise
    except (av.FFmpegError, ValueError) as exc:
        raise CorruptAudio(f"{type(exc).__name__}: {exc}") from exc
    if not chunks:
        raise CorruptAudio("no audio frames")
    samples = np.concatenate(chunks).astype(np.float32) / 32768.0
    if samples.size < SAMPLE_RATE // 10:
        raise CorruptAudio("shorter than 0.1 s")
    return samples
