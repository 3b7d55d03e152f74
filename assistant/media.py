"""Media: inspecting what users send, and storing it (local directory or S3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

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


class MediaRejected(Exception):
    def __init__(
        self,
        reason: Literal["too_large", "too_many_pixels", "unsupported", "empty"],
        detail: str = "",
    ):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


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


def content_key(prefix: str, kind: str, sha: str, ext: str) -> str:
    """Content-addressed key: the same bytes always land on the same object."""
    return f"{prefix}{kind}/{sha[:2]}/{sha}.{ext}"


class MediaStore(Protocol):
    name: str

    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def url(self, key: str, expires_in: int) -> str | None: ...


class UrlSigner:
    """Signed, expiring tokens for links to local media (`GET /media/{token}`)."""

    def __init__(self, secret: bytes):
        self.secret = secret

    @classmethod
    def from_file(cls, path: Path) -> UrlSigner:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        return cls(path.read_bytes())

    def sign(self, key: str, expires_in: int, now: float | None = None) -> str:
        expires = int((now or time.time()) + expires_in)
        payload = f"{expires}:{key}".encode()
        mac = hmac.new(self.secret, payload, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(payload + b"." + mac).decode().rstrip("=")

    def verify(self, token: str, now: float | None = None) -> str | None:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            # The MAC is binary and fixed-length: split by length, not by a separator.
            payload, mac = raw[:-17], raw[-16:]
            if raw[-17:-16] != b".":
                return None
            expected = hmac.new(self.secret, payload, hashlib.sha256).digest()[:16]
            if not hmac.compare_digest(mac, expected):
                return None
            expires, key = payload.decode().split(":", 1)
        except (ValueError, UnicodeDecodeError):
            return None
        if int(expires) < (now or time.time()):
            return None
        return key


class LocalMediaStore:
    """Files under a directory; links are signed tokens served by the web app."""

    name = "local"

    def __init__(self, root: Path, signer: UrlSigner, public_base_url: str | None = None):
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.signer = signer
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"key escapes the media directory: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a crash never leaves a half-written object under the key.
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk must not also fill it with .tmp files
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list_keys(self, prefix: str = "") -> list[str]:
        return sorted(
            str(p.relative_to(self.root))
            for p in self.root.rglob("*")
            if p.is_file()
            and not p.name.startswith(".")
            and str(p.relative_to(self.root)).startswith(prefix)
        )

    def url(self, key: str, expires_in: int) -> str | None:
        token = self.signer.sign(key, expires_in)
        base = self.public_base_url or ""
        return f"{base}/media/{token}"
