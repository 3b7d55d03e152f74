"""A person's own data as a zip ("exportar meus dados" / "export my data"): asked for,
built, placed in the store and its link delivered.

The archive (assistant/ops/user_archive.py: their photos, entries, facts, messages and
profile) is written on a file in a private folder under DATA_DIR, then put into the media
store under an `exports/` key and linked with the store's own expiring link (a signed
`/media/…` link locally, a presigned URL on S3). The retention sweep deletes it after
EXPORT_HOURS.

Up to INLINE_MAX_PHOTOS photos the archive is built while the message is answered and the
link is the reply. Beyond that the reply says it is being prepared: the export is queued
in the message's own transaction (so it exists exactly when that reply does) and the
background loop builds it and sends the link through the outbox.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel

from assistant.db import Database
from assistant.media import LocalMediaStore, MediaStore
from assistant.media.local import PRIVATE_FILE, private_dir
from assistant.models import Language
from assistant.ops.user_archive import ArchiveStats, UserArchive
from assistant.phrases import say

log = logging.getLogger(__name__)

EXPORT_HOURS = 24
INLINE_MAX_PHOTOS = 200
# A queued export still not built after this is given up (the sweep removes its row).
QUEUED_GIVE_UP_HOURS = 48
LEASE_SECONDS = 1800
MAX_ATTEMPTS = 3


class ExportRequest(BaseModel):
    """What asking for an export did: the link (`ready`), or that it is being prepared."""

    status: Literal["ready", "preparing", "already_preparing"]
    photos: int
    url: str | None = None
    expires_hours: int = EXPORT_HOURS


def default_work_dir(store: MediaStore) -> Path:
    """Where archives are written: DATA_DIR/exports beside a local store's DATA_DIR/media,
    else a private temporary folder (an S3 deployment may have no DATA_DIR to speak of)."""
    if isinstance(store, LocalMediaStore):
        return store.root.parent / "exports"
    return Path(tempfile.gettempdir()) / f"assistant-exports-{os.getuid()}"


class UserExports:
    def __init__(
        self,
        db: Database,
        store: MediaStore,
        prefix: str = "",
        work_dir: Path | None = None,
        inline_max_photos: int = INLINE_MAX_PHOTOS,
    ):
        self.db = db
        self.store = store
        self.prefix = prefix
        self.work_dir = work_dir or default_work_dir(store)
        self.inline_max_photos = inline_max_photos

    # --- asking -----------------------------------------------------------------------

    def request(self, owner: str, language: Language) -> ExportRequest:
        """An export of `owner`'s data: built now and linked when small, else queued."""
        photos = int(self.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (owner,)))
        key = self._new_key()
        if photos > self.inline_max_photos:
            with self.db.connection() as conn:  # the message's transaction, when there is one
                busy = conn.execute(
                    "SELECT 1 FROM exports WHERE owner = %s AND (status = 'pending'"
                    " OR (status = 'running' AND lease_until IS NOT NULL))",
                    (owner,),
                ).fetchone()
                if busy:
                    return ExportRequest(status="already_preparing", photos=photos)
                conn.execute(
                    "INSERT INTO exports (owner, language, status, storage_key, photos,"
                    " expires_at) VALUES (%s, %s, 'pending', %s, %s,"
                    " now() + make_interval(hours => %s))",
                    (owner, language, key, photos, QUEUED_GIVE_UP_HOURS),
                )
            return ExportRequest(status="preparing", photos=photos)
        # Committed at once, before the object exists, whatever happens to the message:
        # the sweep must always know the archive (a lease of NULL: no loop takes it over).
        with self.db.separate() as conn:
            row = conn.execute(
                "INSERT INTO exports (owner, language, status, storage_key, photos,"
                " expires_at) VALUES (%s, %s, 'running', %s, %s,"
                " now() + make_interval(hours => %s)) RETURNING id",
                (owner, language, key, photos, EXPORT_HOURS),
            ).fetchone()
        assert row is not None
        try:
            stats = self._build(owner, key)
        except Exception as exc:
            self._failed(row["id"], key, exc)
            raise
        with self.db.separate() as conn:
            conn.execute(
                "UPDATE exports SET status = 'ready', photos = %s, bytes = %s,"
                " ready_at = now(), expires_at = now() + make_interval(hours => %s)"
                " WHERE id = %s",
                (stats.photos, stats.bytes, EXPORT_HOURS, row["id"]),
            )
        return ExportRequest(status="ready", photos=stats.photos, url=self.link(owner, key))

    def link(self, owner: str, key: str) -> str:
        url = self.store.url(key, EXPORT_HOURS * 3600) or ""
        if url.startswith("/"):
            # A local link without PUBLIC_BASE_URL: the address Twilio reached us at.
            base = self.db.scalar(
                "SELECT payload ->> 'public_base' FROM inbox WHERE owner = %s"
                " AND payload ->> 'public_base' IS NOT NULL ORDER BY id DESC LIMIT 1",
                (owner,),
            )
            if base:
                url = str(base).rstrip("/") + url
        return url

    # --- the background loop ----------------------------------------------------------

    def build_next(self) -> bool:
        """Build one queued export and send its link; False when none is waiting."""
        row = self.db.fetchone(
            "UPDATE exports SET status = 'running', attempts = attempts + 1,"
            " lease_until = now() + make_interval(secs => %s)"
            " WHERE id = (SELECT id FROM exports WHERE (status = 'pending'"
            "  OR (status = 'running' AND lease_until < now())) AND expires_at > now()"
            "  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
            " RETURNING id, owner, language, storage_key, attempts",
            (LEASE_SECONDS,),
        )
        if row is None:
            return False
        owner, language, key = row["owner"], row["language"], row["storage_key"]
        try:
            stats = self._build(owner, key)
        except Exception as exc:
            log.exception("export %s failed (attempt %d)", row["id"], row["attempts"])
            if row["attempts"] < MAX_ATTEMPTS:
                self.db.execute(
                    "UPDATE exports SET status = 'pending', lease_until = NULL, error = %s"
                    " WHERE id = %s AND status = 'running'",
                    (f"{type(exc).__name__}: {exc}"[:2000], row["id"]),
                )
            else:
                self._failed(row["id"], key, exc)
                self._tell(owner, say("export_failed", language))
            return True
        with self.db.transaction() as conn:
            done = conn.execute(
                "UPDATE exports SET status = 'ready', photos = %s, bytes = %s,"
                " ready_at = now(), expires_at = now() + make_interval(hours => %s),"
                " lease_until = NULL, error = NULL WHERE id = %s AND status = 'running'"
                " RETURNING id",
                (stats.photos, stats.bytes, EXPORT_HOURS, row["id"]),
            ).fetchone()
            if done is not None:
                url = self.link(owner, key)
                self._tell(
                    owner,
                    say("export_ready", language, url=url, n=stats.photos, hours=EXPORT_HOURS),
                )
        if done is None:  # the person erased their data meanwhile: nothing may stay
            self.store.delete(key)
        return True

    def _tell(self, owner: str, text: str) -> None:
        """A message to the owner outside any reply: queued in the outbox, and logged."""
        with self.db.transaction() as conn:
            # Through the channel the person last wrote on (an export is asked for by
            # chat, so there is one).
            conn.execute(
                "INSERT INTO outbox (inbox_id, seq, kind, channel, recipient, body)"
                " VALUES (NULL, 0, 'reply', coalesce((SELECT channel FROM inbox"
                " WHERE owner = %s ORDER BY id DESC LIMIT 1), 'twilio'), %s, %s)",
                (owner, owner, text),
            )
            conn.execute(
                "INSERT INTO messages (owner, direction, body, channel, meta)"
                " VALUES (%s, 'out', %s, 'whatsapp', '{\"brain\": \"export\"}')",
                (owner, text),
            )

    def _failed(self, export_id: int, key: str, exc: Exception) -> None:
        self.db.execute(
            "UPDATE exports SET status = 'failed', lease_until = NULL, error = %s WHERE id = %s",
            (f"{type(exc).__name__}: {exc}"[:2000], export_id),
        )
        try:
            self.store.delete(key)
        except Exception:  # the sweep deletes it with the row
            log.warning("could not delete failed export %s", key, exc_info=True)

    # --- building and placing the archive ---------------------------------------------

    def _new_key(self) -> str:
        # Random, not the phone number: object names show up in store listings and logs.
        return f"{self.prefix}exports/{secrets.token_urlsafe(18)}.zip"

    def _build(self, owner: str, key: str) -> ArchiveStats:
        """Write the archive in the work folder, then put it into the store."""
        folder = private_dir(self.work_dir)
        path = folder / f"{PurePosixPath(key).stem}.zip.part"
        try:
            stats = UserArchive(self.db, self.store).write(owner, path)
            stats.bytes = path.stat().st_size
            self._place(path, key)
        finally:
            path.unlink(missing_ok=True)
        return stats

    def _place(self, path: Path, key: str) -> None:
        """Into the store without holding the archive in memory: moved into a local
        store's folder, uploaded in parts to S3."""
        if isinstance(self.store, LocalMediaStore):
            target = (self.store.root / key).resolve()
            if not target.is_relative_to(self.store.root):
                raise ValueError(f"key escapes the media directory: {key!r}")
            private_dir(target.parent)
            shutil.move(path, target)
            os.chmod(target, PRIVATE_FILE)
            return
        client, bucket = getattr(self.store, "client", None), getattr(self.store, "bucket", None)
        if client is not None and bucket:
            client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": "application/zip"})
            return
        self.store.put(key, path.read_bytes(), "application/zip")  # any other store
