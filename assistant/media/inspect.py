"""What users send, inspected from the bytes themselves: image type and size (refusing
decompression bombs from the header), audio container, thumbnails and perceptual hashes
decoded at reduced size."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

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
    """Type from the bytes themselves (never the sender's claim), within WhatsApp's limits.

    Only the header is read for the size, so an image with too many pixels is refused
    before anything decodes it.
    """
    if not data:
        raise MediaRejected("empty")
    if len(data) > max_bytes:
        raise MediaRejected("too_large", f"{len(data)} bytes")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            width, height = img.size
            if width * height > (max_pixels or DEFAULT_MAX_PIXELS):
                raise MediaRejected("too_many_pixels", f"{width * height}")
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise MediaRejected("unsupported", str(exc)) from None
    if fmt not in IMAGE_TYPES:
        raise MediaRejected("unsupported", fmt)
    content_type, ext = IMAGE_TYPES[fmt]
    return ImageInfo(content_type, ext, width, height)


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


def _reduced(img: Image.Image, px: int) -> Image.Image:
    """The image upright and decoded at the smallest size that still covers `px`.

    JPEG decodes at 1/2 to 1/8 scale in the DCT (`draft`): a 12-megapixel photo costs a
    few MB instead of ~36 MB. EXIF orientation is applied after that, on the small image.
    """
    img.draft("RGB", (px, px))
    return ImageOps.exif_transpose(img)


def derive(data: bytes, px: int = 320) -> tuple[bytes, int]:
    """(JPEG thumbnail at most `px` on its longer side, perceptual hash), decoding once."""
    with Image.open(io.BytesIO(data)) as img:
        upright = _reduced(img, max(px, 64))
        phash = _dhash(upright)
        upright.thumbnail((px, px))
        out = io.BytesIO()
        upright.convert("RGB").save(out, format="JPEG", quality=80, optimize=True)
    return out.getvalue(), phash


def make_thumbnail(data: bytes, px: int = 320) -> bytes:
    """A JPEG at most `px` on its longer side, turned upright from its EXIF orientation."""
    return derive(data, px)[0]


def dhash(data: bytes) -> int:
    """64-bit difference hash of an image's bytes (see `_dhash`)."""
    with Image.open(io.BytesIO(data)) as img:
        return _dhash(_reduced(img, 64))


def _dhash(img: Image.Image) -> int:
    """64-bit difference hash: resized, recompressed or lightly edited copies of a photo
    land within a few bits of each other. Signed, to fit Postgres' bigint.

    Written here rather than taken from `imagehash`, which would add numpy/scipy/PyWavelets
    for these few lines.
    """
    small = img.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    pixels = small.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (pixels[row * 9 + col] > pixels[row * 9 + col + 1])
    return bits - (1 << 64) if bits >= 1 << 63 else bits
