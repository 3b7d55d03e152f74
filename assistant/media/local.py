"""Media in a local directory, linked to by signed, expiring `/media/{token}` URLs.

Users' photos are private: the data and media directories are 0700 and media files 0600,
so other accounts on the machine cannot list or read them, whatever the umask.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path, *, holds_database: bool = False) -> Path:
    """Create `path` and its missing parents 0700, and make an existing `path` 0700 (data
    directories made by earlier versions were 0755). Returns `path`. `holds_database`:
    DATA_DIR, above the embedded database, keeps the traverse bits pgserver gives it."""
    missing: list[Path] = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        # mkdir's mode is filtered by the umask; the chmod below is not.
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        os.chmod(folder, PRIVATE_DIR)
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a directory")
    mode = PRIVATE_DIR
    if holds_database and os.geteuid() == 0:
        # As root, pgserver runs the embedded PostgreSQL as its own system user and makes
        # every folder above the database traversable (x, never r or w). Taking that away
        # made its pg_ctl fail ("Permission denied"): the restart after tuning, at random,
        # and the stop at exit, always (the server was killed instead).
        mode |= path.stat().st_mode & 0o011
    if path.stat().st_mode & 0o777 != mode:
        try:
            os.chmod(path, mode)
        except PermissionError:  # not ours (a mounted volume): say so, but keep working
            log.warning("%s is readable by other accounts and not ours to chmod", path)
    return path


class UrlSigner:
    """Signed, expiring tokens for links to local media (`GET /media/{token}`)."""

    def __init__(self, secret: bytes):
        self.secret = secret

    @classmethod
    def from_file(cls, path: Path) -> UrlSigner:
        # DATA_DIR: every process makes its signer first.
        private_dir(path.parent, holds_database=True)
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
        self.root = private_dir(root).resolve()
        self.signer = signer
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"key escapes the media directory: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        if not path.parent.is_dir():
            private_dir(path.parent)
        # Write then rename: a crash never leaves a half-written object under the key.
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk must not also fill it with .tmp files
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def file_path(self, key: str) -> Path:
        """Where an object lives, for serving large ones (exports) as a stream."""
        return self._path(key)

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
