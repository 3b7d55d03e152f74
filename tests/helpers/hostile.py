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


def png_of_zeros(
    width: int,
    height: int,
    color_type: int = 0,
    channels: int = 1,
    depth: int = 8,
    interlace: int = 0,
) -> bytes:
    """A valid PNG of `width`×`height` black pixels, compressed row by row so no
    full-size buffer is ever built here (1×40,000,000 is ~78 KB)."""
    row = b"\x00" + bytes(width * channels * depth // 8)  # filter byte "none", then pixels
    compressor = zlib.compressobj(9)
    parts: list[bytes] = []
    remaining = height
    block = max(1, min(height, (1 << 22) // len(row)))
    while remaining:
        n = min(block, remaining)
        parts.append(compressor.compress(row * n))
        remaining -= n
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def png_with_text_bomb(inflated: int = 8 * 2**20) -> bytes:
    """A 100×100 PNG of about 8 KB whose zTXt chunk inflates to `inflated` bytes: past
    Pillow's MAX_TEXT_CHUNK (1 MB), which it refuses with a ValueError while reading the
    header."""
    text = b"comment\x00\x00" + zlib.compress(b"A" * inflated, 9)
    plain = png_of_zeros(100, 100)
    ihdr_end = 8 + 25  # the signature, then IHDR (length, type, 13 bytes, CRC)
    return plain[:ihdr_end] + _chunk(b"zTXt", text) + plain[ihdr_end:]


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


def audio_with_video(side: int = 10_000) -> bytes:
    """An MP4 holding one Opus frame and one PNG "video" frame of `side`² (~290 KB):
    opening it used to decode the video frame to probe it (300 MB)."""
    import fractions

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        audio = container.add_stream("libopus", rate=48_000, layout="mono")
        video = container.add_stream("png", rate=1)
        video.width, video.height, video.pix_fmt = 64, 64, "rgb24"
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 960), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate, frame.pts = 48_000, 0
        for packet in audio.encode(frame):
            container.mux(packet)
        picture = av.Packet(png_of_zeros(side, side, color_type=2, channels=3))
        picture.stream = video
        picture.pts = picture.dts = 0
        picture.time_base = video.time_base or fractions.Fraction(1, 1000)
        container.mux(picture)
        for packet in audio.encode(None):
            container.mux(packet)
    return out.getvalue()


def jpeg_with_scans(scans: int = 8_000, side: int = 4_000) -> bytes:
    """A progressive JPEG whose smallest AC scan is repeated `scans` times: each costs a
    walk over every block (8,000 of them took 16 s)."""
    out = io.BytesIO()
    Image.new("L", (side, side), 128).save(out, "JPEG", progressive=True, quality=90)
    data = out.getvalue()
    segments: list[tuple[int, bytes]] = []
    i = 2
    while i < len(data):
        marker = data[i + 1]
        if marker == 0xD9:
            break
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        end = i + 2 + length
        if marker == 0xDA:  # the scan's data runs to the next marker that is not stuffed
            while True:
                end = data.index(b"\xff", end)
                if data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7:
                    end += 2
                    continue
                break
        segments.append((marker, data[i:end]))
        i = end
    ac_scans = [seg for marker, seg in segments if marker == 0xDA and seg[5 + 2 * seg[4]] > 0]
    smallest = min(ac_scans, key=len)
    return b"\xff\xd8" + b"".join(seg for _, seg in segments) + smallest * scans + b"\xff\xd9"
