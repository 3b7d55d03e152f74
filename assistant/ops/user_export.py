"""A person's own data as a zip ("exportar meus dados" / "export my data").

The archive holds their photos (the original bytes), `entries.json` and `entries.csv`
(descriptions, captions, tags, the text read in each photo, dates, and each photo's file
name inside the zip), `facts.json` (what they asked to be remembered), `messages.json`
(their message history) and `profile.json`. It is written entry by entry on a file in a
private folder under DATA_DIR, one photo in memory at a time, then put into the media
store under an `exports/` key and linked with the store's own expiring link (a signed
`/media/…` link locally, a presigned URL on S3). The retention sweep deletes it after
EXPORT_HOURS.

Up to INLINE_MAX_PHOTOS photos the archive is built while the message is answered and the
link is the reply. Beyond that the reply says it is being prepared: the export is queued
in the message's own transaction (so it exists exactly when that reply does) and the
background loop builds it and sends the link through the outbox.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import secrets
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel

from assistant.db import Database
from assistant.media import LocalMediaStore, MediaStore
from assistant.media.local import PRIVATE_FILE, private_dir
from assistant.models import Language
from assistant.phrases import say

log = logging.getLogger(__name__)

EXPORT_HOURS = 24
INLINE_MAX_PHOTOS = 200
# A queued export still not built after this is given up (the sweep removes its row).
QUEUED_GIVE_UP_HOURS = 48
LEASE_SECONDS = 1800
MAX_ATTEMPTS = 3
PAGE = 200

CSV_COLUMNS = [
    "entry_id",
    "description",
    "caption",
    "tags",
    "entry_text_read",
    "entry_created_at",
    "photo_id",
    "file",
    "content_type",
    "width",
    "height",
    "photo_text_read",
    "photo_created_at",
]


class ExportRequest(BaseModel):
    """What asking for an export did: the link (`ready`), or that it is being prepared."""

    status: Literal["ready", "preparing", "already_preparing"]
    photos: int
    url: str | None = None
    expires_hours: int = EXPORT_HOURS


class ArchiveStats(BaseModel):
    photos: int = 0
    missing_photos: int = 0
    entries: int = 0
    messages: int = 0
    facts: int = 0
    bytes: int = 0


def default_work_dir(store: MediaStore) -> Path:
    """Where archives are written: DATA_DIR/exports beside a local store's DATA_DIR/media,
    else a private temporary folder (an S3 deployment may have no DATA_DIR to speak of)."""
    if isinstance(store, LocalMediaStore):
        return store.root.parent / "exports"
    return Path(tempfile.gettempdir()) / f"assistant-exports-{os.getuid()}"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_iso)


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

    # --- the archive ------------------------------------------------------------------

    def _new_key(self) -> str:
        # Random, not the phone number: object names show up in store listings and logs.
        return f"{self.prefix}exports/{secrets.token_urlsafe(18)}.zip"

    def _build(self, owner: str, key: str) -> ArchiveStats:
        """Write the archive in the work folder, then put it into the store."""
        folder = private_dir(self.work_dir)
        path = folder / f"{PurePosixPath(key).stem}.zip.part"
        try:
            stats = self.write_archive(owner, path)
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

    def write_archive(self, owner: str, path: Path) -> ArchiveStats:
        """The zip of `owner`'s data at `path` (0600), one photo in memory at a time."""
        stats = ArchiveStats()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE)
        with (
            os.fdopen(fd, "wb") as raw,
            zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf,
            tempfile.TemporaryDirectory(dir=path.parent) as scratch,
        ):
            # entries.json and entries.csv grow together while the photos are written,
            # so they are spooled to files and added at the end.
            json_path, csv_path = Path(scratch) / "entries.json", Path(scratch) / "entries.csv"
            with (
                json_path.open("w", encoding="utf-8") as jf,
                csv_path.open("w", encoding="utf-8", newline="") as cf,
            ):
                table = csv.writer(cf)
                table.writerow(CSV_COLUMNS)
                header = {"owner": owner, "exported_at": datetime.now(UTC)}
                jf.write(_json(header)[:-1] + ', "entries": [')
                first = True
                for record in self._entries(owner):
                    files = []
                    for image in record.pop("images"):
                        name = self._add_photo(zf, record["id"], image, stats)
                        files.append(name)
                        table.writerow(
                            [
                                record["id"] or "",
                                record["description"] or "",
                                record["caption"] or "",
                                "; ".join(record["tags"] or []),
                                record["photo_text"] or "",
                                _iso(record["created_at"]) or "",
                                image["id"],
                                name or "",
                                image["content_type"],
                                image["width"] or "",
                                image["height"] or "",
                                image["ocr_text"] or "",
                                image["created_at"],
                            ]
                        )
                        record.setdefault("photos", []).append(
                            {
                                "file": name,
                                "id": image["id"],
                                "content_type": image["content_type"],
                                "width": image["width"],
                                "height": image["height"],
                                "bytes": image["byte_size"],
                                "sha256": image["sha256"],
                                "text_read": image["ocr_text"],
                                "created_at": image["created_at"],
                            }
                        )
                    if not files and record["id"] is not None:
                        table.writerow(
                            [
                                record["id"],
                                record["description"],
                                record["caption"] or "",
                                "; ".join(record["tags"] or []),
                                record["photo_text"] or "",
                                _iso(record["created_at"]),
                            ]
                            + [""] * 7
                        )
                    record.setdefault("photos", [])
                    stats.entries += record["id"] is not None
                    jf.write(("\n  " if first else ",\n  ") + _json(record))
                    first = False
                jf.write("\n]}\n")
            zf.write(json_path, "entries.json")
            zf.write(csv_path, "entries.csv")
            facts = self.db.fetchall(
                "SELECT fact, created_at FROM memory_facts WHERE owner = %s ORDER BY id",
                (owner,),
            )
            stats.facts = len(facts)
            zf.writestr("facts.json", _json(facts) + "\n")
            profile = self.db.fetchone(
                "SELECT phone, profile_name, language, created_at, last_seen_at FROM users"
                " WHERE phone = %s",
                (owner,),
            )
            zf.writestr("profile.json", _json(profile or {"phone": owner}) + "\n")
            with zf.open("messages.json", "w", force_zip64=True) as out:
                text = io.TextIOWrapper(out, encoding="utf-8")
                text.write("[")
                for i, message in enumerate(self._messages(owner)):
                    text.write(("\n  " if i == 0 else ",\n  ") + _json(message))
                    stats.messages += 1
                text.write("\n]\n")
                text.flush()
                text.detach()
            zf.writestr("README.txt", say("export_readme", self._language(owner)) + "\n")
        return stats

    def _add_photo(
        self, zf: zipfile.ZipFile, entry_id: int | None, image: dict[str, Any], stats: ArchiveStats
    ) -> str | None:
        ext = PurePosixPath(image["storage_key"]).suffix or ".bin"
        name = f"photos/{entry_id if entry_id is not None else 'waiting'}-{image['id']}{ext}"
        try:
            data = self.store.get(image["storage_key"])
        except Exception:  # an object lost from the store: the entry is still exported
            log.warning("export: photo %s missing from the store", image["id"], exc_info=True)
            stats.missing_photos += 1
            return None
        info = zipfile.ZipInfo(name, date_time=time.gmtime()[:6])
        info.compress_type = zipfile.ZIP_STORED  # JPEG/PNG/WebP do not deflate
        info.external_attr = 0o600 << 16
        zf.writestr(info, data)
        stats.photos += 1
        return name

    def _entries(self, owner: str) -> Iterator[dict[str, Any]]:
        """The owner's entries with their photos, page by page, then the photos still
        waiting for a description (as a record with no entry id)."""
        image_json = (
            "json_build_object('id', i.id, 'storage_key', i.storage_key, 'content_type',"
            " i.content_type, 'byte_size', i.byte_size, 'width', i.width, 'height', i.height,"
            " 'sha256', i.sha256, 'ocr_text', i.ocr_text, 'created_at', i.created_at)"
        )
        last = 0
        while True:
            rows = self.db.fetchall(
                "SELECT d.id, d.description, d.caption, d.tags, d.photo_text, d.auto_described,"
                f" d.created_at, coalesce((SELECT json_agg({image_json} ORDER BY i.created_at,"
                " i.id) FROM images i WHERE i.owner = d.owner AND i.description_id = d.id),"
                " '[]') AS images FROM descriptions d WHERE d.owner = %s AND d.id > %s"
                " ORDER BY d.id LIMIT %s",
                (owner, last, PAGE),
            )
            if not rows:
                break
            yield from rows
            last = rows[-1]["id"]
        last = 0
        while True:
            rows = self.db.fetchall(
                f"SELECT i.id, {image_json} AS image FROM images i WHERE i.owner = %s"
                " AND i.description_id IS NULL AND i.id > %s ORDER BY i.id LIMIT %s",
                (owner, last, PAGE),
            )
            if not rows:
                break
            yield {
                "id": None,
                "description": None,
                "caption": None,
                "tags": [],
                "photo_text": None,
                "auto_described": False,
                "created_at": None,
                "waiting_for_description": True,
                "images": [r["image"] for r in rows],
            }
            last = rows[-1]["id"]

    def _messages(self, owner: str) -> Iterator[dict[str, Any]]:
        last = 0
        while True:
            rows = self.db.fetchall(
                "SELECT id, direction, body, channel, media, meta, created_at FROM messages"
                " WHERE owner = %s AND id > %s ORDER BY id LIMIT %s",
                (owner, last, PAGE * 5),
            )
            if not rows:
                return
            yield from rows
            last = rows[-1]["id"]

    def _language(self, owner: str) -> Language:
        value = self.db.scalar("SELECT language FROM users WHERE phone = %s", (owner,))
        return "en" if value == "en" else "pt"
