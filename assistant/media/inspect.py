"""What users send, inspected from the bytes themselves: image type and size (refusing
decompression bombs from the header), audio container, and thumbnails decoded at reduced
size."""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from assistant.errors import MediaRejected

IMAGE_TYPES = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}


AUDIO_EXT = {
    "audio/ogg": "ogg",
    "audio/amr": "amr",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/aac": "aac",
    "audio/wav": "wav",
    "audio/webm": "webm",
}


# Decompression bombs: a 477 KB PNG can claim 120 million pixels. `inspect_image` refuses
# anything over MAX_IMAGE_PIXELS from the header alone, before decoding; Pillow's own guard
# (a warning above this, an error at twice it) stays as a backstop above our ceiling.
DEFAULT_MAX_PIXELS = 50_000_000
# Shape: a 78 KB PNG of 1x40,000,000 is under the pixel cap and took 3.1 GB to hash.
# Real photos, panoramas (about 4:1) and long phone screenshots (about 1:15) fit well
# inside these; WhatsApp itself sends photos at most 4,096 px on a side.
MAX_IMAGE_SIDE = 20_000
MAX_ASPECT_RATIO = 25
# What decoding one image may hold. A progressive JPEG keeps every DCT coefficient of the
# image until the last scan, even when decoded at 1/8 scale: 2 bytes per sample, so a
# 49 MP 4:4:4 one costs ~290 MB. Baseline JPEGs decode at reduced size in a few MB, and
# large PNG/WebP are streamed (see `reduced`).
DECODE_BUDGET_BYTES = 96 * 2**20
# Scans a progressive JPEG may have (cjpeg writes ~10; libjpeg-turbo's tools refuse >500).
MAX_JPEG_SCANS = 100
# PNG/WebP up to this many pixels are decoded whole by Pillow (16 MB in RGBA); larger
# ones are streamed through libvips' shrink-on-load, a few rows at a time.
WHOLE_DECODE_PIXELS = 4_000_000


Image.MAX_IMAGE_PIXELS = 400_000_000


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    extension: str
    width: int
    height: int


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def inspect_image(data: bytes, max_bytes: int, max_pixels: int | None = None) -> ImageInfo:
    """Type from the bytes themselves (never the sender's claim), within WhatsApp's limits
    and the decoding budget.

    Only the header is read for the size and shape, so an image with too many pixels, an
    absurd shape or a decoding cost over the budget is refused before anything decodes it.
    """
    if not data:
        raise MediaRejected("empty")
    if len(data) > max_bytes:
        raise MediaRejected("too_large", f"{len(data)} bytes")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            width, height = img.size
            check_shape(width, height, max_pixels or DEFAULT_MAX_PIXELS)
            if fmt == "JPEG" and (img.info.get("progressive") or img.info.get("progression")):
                _check_progressive(img, data)
            if fmt == "PNG" and img.info.get("interlace"):
                _check_interlaced(width, height, data)
            img.verify()
    # ValueError: Pillow refuses a PNG text chunk that inflates past MAX_TEXT_CHUNK (an
    # 8 KB file can carry one) while reading the header: corrupt like the others.
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise MediaRejected("unsupported", str(exc)) from None
    if fmt not in IMAGE_TYPES:
        raise MediaRejected("unsupported", fmt)
    content_type, ext = IMAGE_TYPES[fmt]
    return ImageInfo(content_type, ext, width, height)


def _check_interlaced(width: int, height: int, data: bytes) -> None:
    """An interlaced (Adam7) PNG cannot be streamed row by row: libvips decodes it whole.
    Its size then is width x height x channels x bytes per sample, from the header
    (IHDR: bit depth at byte 24, colour type at 25)."""
    depth, colour = data[24], data[25]
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4)
    decoded = width * height * channels * max(1, depth // 8)
    # Half the budget: libvips holds the decoded image and its own working copy (a 100 MB
    # interlaced RGBA PNG peaked at +134 MB).
    budget = DECODE_BUDGET_BYTES // 2
    if decoded > budget:
        per_pixel = decoded / (width * height)
        raise MediaRejected("too_many_pixels", f"{width * height}", int(budget / per_pixel))


def check_shape(width: int, height: int, max_pixels: int) -> None:
    """Pixels, each side and the aspect ratio, from the header's numbers."""
    if width < 1 or height < 1:
        raise MediaRejected("unsupported", f"{width}x{height}")
    if width * height > max_pixels:
        raise MediaRejected("too_many_pixels", f"{width * height}", max_pixels)
    if max(width, height) > MAX_IMAGE_SIDE or max(width, height) > MAX_ASPECT_RATIO * min(
        width, height
    ):
        raise MediaRejected("bad_shape", f"{width}x{height}")


def _check_progressive(img: Image.Image, data: bytes) -> None:
    """A progressive JPEG's coefficient buffer, from its sampling factors (Pillow's
    `layer`: component id, horizontal and vertical sampling, table), and its number of
    scans: libjpeg walks every block once per scan, and 8,000 empty 31-byte scans of a
    4000x4000 image took 16 s (a normal progressive JPEG has about 10)."""
    scans = data.count(b"\xff\xda")  # SOS markers (an upper bound: 0xFFDA in data is stuffed)
    if scans > MAX_JPEG_SCANS:
        raise MediaRejected("unsupported", f"{scans} JPEG scans")
    layers = getattr(img, "layer", None) or [("", 1, 1, 0)] * 3
    max_h = max(int(layer[1]) for layer in layers)
    max_v = max(int(layer[2]) for layer in layers)
    width, height = img.size
    samples = sum(
        width * int(layer[1]) / max_h * height * int(layer[2]) / max_v for layer in layers
    )
    if 2 * samples > DECODE_BUDGET_BYTES:
        per_pixel = 2 * samples / (width * height)
        raise MediaRejected(
            "too_many_pixels", f"{width * height}", int(DECODE_BUDGET_BYTES / per_pixel)
        )


def sniff_audio(data: bytes) -> str | None:
    """Audio container from magic bytes; None when it is not a format we accept."""
    head = data[:16]
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        # MPEG audio frames and ADTS AAC share the sync word; ADTS has layer bits 00.
        if not head.startswith(b"ID3") and head[1] & 0x06 == 0:
            return "audio/aac"
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    return None


def reduced(data: bytes, px: int) -> Image.Image:
    """The image upright, decoded at the smallest size that still covers `px` and then
    shrunk to at most `px` on its longer side, within the decoding budget.

    JPEG decodes at 1/2 to 1/8 scale in the DCT (`draft`): a 12-megapixel photo costs a
    few MB instead of ~36 MB. Small PNG/WebP decode whole; large ones go through libvips'
    thumbnail, which streams the rows (a 7070² RGBA PNG: ~50 MB and 0.5 s instead of
    ~900 MB and 6.6 s whole). EXIF orientation is applied after that, on the small image.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if img.format == "JPEG" or width * height <= WHOLE_DECODE_PIXELS:
                img.draft("RGB", (px, px))
                upright = ImageOps.exif_transpose(img)
                # Box-reduces by whole factors first (`reducing_gap`), then resamples the
                # small image: never a resampling kernel over the full-size one.
                upright.thumbnail((px, px))
                return upright
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # Truncated or corrupt past its header: refused like any unreadable image.
        raise MediaRejected("unsupported", str(exc)) from None
    return _streamed(data, px)


@functools.cache
def _vips() -> Any:
    import pyvips

    # No operation cache (each image is seen once; the cache would keep decoded pixels)
    # and one thread per image: the budget is per image, and the other core stays free
    # for the other users' messages.
    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)
    return pyvips


def _streamed(data: bytes, px: int) -> Image.Image:
    pyvips = _vips()
    try:
        thumb = pyvips.Image.thumbnail_buffer(data, px, height=px, size="down")
        if thumb.interpretation not in ("srgb", "b-w") or thumb.format != "uchar":
            thumb = thumb.colourspace("srgb")
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[thumb.bands]
        return Image.frombytes(mode, (thumb.width, thumb.height), thumb.write_to_memory())
    except (pyvips.Error, KeyError) as exc:
        raise MediaRejected("unsupported", f"libvips: {exc}") from None


def derive(data: bytes, px: int = 320) -> bytes:
    """A JPEG thumbnail at most `px` on its longer side, turned upright from its EXIF
    orientation (the stored thumbnail, and what the similarity hashes are read from)."""
    small = reduced(data, max(px, 64))
    out = io.BytesIO()
    small.convert("RGB").save(out, format="JPEG", quality=80, optimize=True)
    return out.getvalue()
