"""Deterministic sample media: distinct images per name, for evaluation, demos and tests."""

from __future__ import annotations

import hashlib
import io
import math
import struct
import wave

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
