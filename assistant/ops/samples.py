"""Deterministic sample media: distinct images per name, for evaluation, demos and tests."""

from __future__ import annotations

import hashlib
import io
import math
import struct
import wave
from typing import Any

from PIL import Image, ImageDraw


def sample_image(name: str, size: tuple[int, int] = (160, 120), fmt: str = "JPEG") -> bytes:
    """An image that only `name` produces: colours and shapes derived from its hash."""
    digest = hashlib.sha256(name.encode()).digest()
    img = Image.new("RGB", size, tuple(digest[0:3]))
    draw = ImageDraw.Draw(img)
    for i in range(4):
        x0, y0 = digest[3 + i] % size[0], digest[7 + i] % size[1]
        x1, y1 = x0 + 20 + digest[11 + i] % 60, y0 + 20 + digest[15 + i] % 50
        draw.ellipse((x0, y0, x1, y1), fill=tuple(digest[19 + i : 22 + i]))
    draw.text((6, 6), name[:24], fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, format=fmt, quality=85) if fmt == "JPEG" else img.save(out, format=fmt)
    return out.getvalue()


def sample_wav(words: str, seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A short tone standing in for a voice note (no speech: for paths that don't listen)."""
    freq = 300 + int(hashlib.sha256(words.encode()).hexdigest()[:2], 16)
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * n / rate)))
        for n in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


ESPEAK_VOICES = {"pt": "pt-br", "en": "en-us"}
CONTAINERS = {  # format: (container, codec, sample rate)
    "ogg": ("ogg", "libopus", 48_000),
    "m4a": ("ipod", "aac", 44_100),
    "mp3": ("mp3", "libmp3lame", 44_100),
    "wav": ("wav", "pcm_s16le", 16_000),
}


def speak(
    text: str, lang: str = "pt", *, voice: str = "", speed: int = 160, fmt: str = "ogg"
) -> bytes:
    """Real speech from espeak-ng (`apt-get install espeak-ng`), encoded like WhatsApp voice
    notes (OGG/Opus, mono, 48 kHz) or as M4A/AAC, MP3 or WAV. `voice` is an espeak variant
    (e.g. "+f3", a female voice)."""
    import shutil
    import subprocess

    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = subprocess.run(
        ["espeak-ng", "-v", ESPEAK_VOICES.get(lang, lang) + voice, "-s", str(speed), "--stdout"],
        input=text.encode(),
        capture_output=True,
        check=True,
    ).stdout
    return encode(wav, fmt)


def encode(wav: bytes, fmt: str) -> bytes:
    """Re-encode WAV bytes with PyAV (deterministic: no timestamps or random ids kept)."""
    import av

    container_format, codec, rate = CONTAINERS[fmt]
    out = io.BytesIO()
    with (
        av.open(io.BytesIO(wav), mode="r") as source,
        av.open(out, mode="w", format=container_format) as target,
    ):
        stream: Any = target.add_stream(codec, rate=rate, layout="mono")
        if codec == "libopus":
            stream.bit_rate = 24_000  # what WhatsApp's voice notes use, roughly
        resampler = av.AudioResampler(format=stream.codec_context.format, layout="mono", rate=rate)
        for frame in source.decode(audio=0):
            for resampled in resampler.resample(frame):
                target.mux(stream.encode(resampled))
        for resampled in resampler.resample(None):
            target.mux(stream.encode(resampled))
        target.mux(stream.encode(None))
    return out.getvalue()
