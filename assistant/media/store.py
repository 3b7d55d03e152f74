"""The media store protocol (local directory or S3) and content-addressed keys."""

from __future__ import annotations

from typing import Protocol


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
