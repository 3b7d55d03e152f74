"""Small files that cost a lot: the payloads of the hostile-media tests and benchmark.

Each is what an outside audit sent as a WhatsApp message (issue #23); all are made here,
in memory, in well under a second.
"""

from __future__ import annotations

import io
import struct
import zlib

import av
import numpy as np
from PIL import Image


def flac_in_ogg(rate: int = 10, frame_size: int = 65_535) -> bytes:
    """~200 bytes of Ogg holding FLAC at `rate` Hz in one huge frame: at 10 Hz the frame
    "lasts" 6,553 s, and resampled to 16 kHz it is ~105 million samples."""
    out = io.BytesIO()
    with av.open(out, "w", format="ogg") as container:
        stream = container.add_stream(
            "flac", rate=rate, layout="mono", options={"frame_size": str(frame_size)}
        )
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, frame_size), dtype=np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def opus_in_ogg(seconds: float, rate: int = 48_000) -> bytes:
    """A real Opus voice note of `seconds` of a quiet tone (long notes for the limits)."""
    out = io.BytesIO()
    with av.open(out, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=rate, layout="mono")
        stream.bit_rate = 8_000
        chunk = rate // 10
        t = np.arange(chunk) / rate
        tone = (np.sin(2 * np.pi * 220 * t) * 3000).astype(np.int16).reshape(1, -1)
        for i in range(int(seconds * 10)):
            frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = i * chunk
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_of_zeros(width: int, height: int, color_type: int = 0, channels: int = 1) -> bytes:
    """A valid PNG of `width`×`height` black pixels, compressed row by row so no
    full-size buffer is ever built here (1×40,000,000 is ~78 KB)."""
    row = b"\x00" + bytes(width * channels)  # filter byte "none", then the pixels
    compressor = zlib.compressobj(9)
    parts: list[bytes] = []
    remaining = height
    block = max(1, min(height, (1 << 22) // len(row)))
    while remaining:
        n = min(block, remaining)
        parts.append(compressor.compress(row * n))
        remaining -= n
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def tall_png() -> bytes:
    """1×40,000,000 (the audit's 78 KB PNG): under a 50 MP cap, absurd in shape."""
    return png_of_zeros(1, 40_000_000)


def wide_png() -> bytes:
    """49,999,999×1: one row just under the pixel cap."""
    return png_of_zeros(49_999_999, 1)


def big_rgba_png(side: int = 7070) -> bytes:
    """A ~200 KB RGBA PNG of `side`² (50 MP): within the caps, ~200 MB decoded."""
    return png_of_zeros(side, side, color_type=6, channels=4)


def big_webp(side: int = 7000) -> bytes:
    """A lossless WebP of `side`² of one colour: tiny, ~150 MB decoded in RGBA."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (30, 90, 160)).save(out, format="WEBP", lossless=True)
    return out.getvalue()
