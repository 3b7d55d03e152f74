"""The zip of a person's own data (see assistant/ops/user_export.py for asking for it and
delivering it): their photos (the original bytes), `entries.json` and `entries.csv`
(descriptions, captions, tags, the text read in each photo, dates, and each photo's file
name inside the zip), `facts.json` (what they asked to be remembered), `messages.json`
(their message history), `profile.json` and a README. Written entry by entry on a file,
one photo in memory at a time.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import tempfile
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel

from assistant.db import Database
from assistant.media import MediaStore
from assistant.media.local import PRIVATE_FILE
from assistant.models import Language
from assistant.phrases import say

log = logging.getLogger(__name__)

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


class ArchiveStats(BaseModel):
    photos: int = 0
    missing_photos: int = 0
    entries: int = 0
    messages: int = 0
    facts: int = 0
    bytes: int = 0


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_iso)


class UserArchive:
    def __init__(self, db: Database, store: MediaStore):
        self.db = db
        self.store = store

    def write(self, owner: str, path: Path) -> ArchiveStats:
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
