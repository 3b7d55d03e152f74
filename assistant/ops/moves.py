"""Moving media between stores, and importing a reference (seed) deployment.

Both are resumable: an object already at the destination with the same bytes is skipped,
and a legacy row already imported is not imported twice.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row
from tqdm import tqdm

from assistant.catalog import Catalog
from assistant.config import ConfigError
from assistant.core import normalize_phone
from assistant.db import Database
from assistant.media import MediaRejected, MediaStore, inspect_image, sha256_hex
from assistant.media.download import Downloader, DownloadError, TooLarge, public_web_rule

log = logging.getLogger(__name__)


class ListableStore(MediaStore, Protocol):
    def list_keys(self, prefix: str = "") -> list[str]: ...


@dataclass
class MoveReport:
    copied: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def migrate_media(
    source: ListableStore, target: MediaStore, prefix: str = "", progress: bool = True
) -> MoveReport:
    """Copy every object under `prefix` from `source` to `target`, verifying sha256."""
    report = MoveReport()
    keys = source.list_keys(prefix)
    for key in tqdm(keys, desc=f"{source.name} → {target.name}", unit="obj", disable=not progress):
        try:
            data = source.get(key)
            digest = sha256_hex(data)
            if target.exists(key) and sha256_hex(target.get(key)) == digest:
                report.skipped += 1
                continue
            content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
            target.put(key, data, content_type)
            if sha256_hex(target.get(key)) != digest:
                raise OSError("sha256 differs after copying")
            report.copied += 1
        except Exception as exc:  # keep going; the summary says what failed
            log.warning("could not move %s: %s", key, exc)
            report.failed[key] = f"{type(exc).__name__}: {exc}"
    return report


# --- the reference deployment -------------------------------------------------------------


@dataclass
class ImportReport:
    imported: int = 0
    already: int = 0
    failed: dict[int, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        reasons: dict[str, int] = {}
        for error in self.failed.values():
            reason = error.split(":")[0]
            reasons[reason] = reasons.get(reason, 0) + 1
        return {
            "imported": self.imported,
            "already_imported": self.already,
            "failed": len(self.failed),
            "failed_by_reason": reasons,
            "failures": {str(k): v for k, v in sorted(self.failed.items())},
        }


def legacy_rows(database_url: str) -> list[dict[str, Any]]:
    """Every image link of the seed's tables with its description and owner."""
    try:
        conn = psycopg.connect(database_url, row_factory=dict_row, connect_timeout=10)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"Legacy database unreachable (--database-url): {first}") from None
    with conn:
        return conn.execute(
            "SELECT l.id AS link_id, l.image_link, d.id AS desc_id, d.descricao,"
            " d.from_number, coalesce(d.created_at, l.created_at) AS created_at"
            " FROM table_image_link l JOIN table_descricao d ON d.id = l.id_descricao"
            " ORDER BY d.id, l.id"
        ).fetchall()


def import_legacy(
    db: Database,
    catalog: Catalog,
    rows: Iterable[dict[str, Any]],
    *,
    max_bytes: int,
    downloader: Downloader | None = None,
    allow_private_hosts: bool = False,
    max_pixels: int | None = None,
    progress: bool = True,
) -> ImportReport:
    """Download each legacy image into our store and create its entry for its owner.

    Images of one legacy description become one entry (1:N, as in the seed). Each link is
    recorded in `legacy_imports`, so a second run only retries what failed.

    The URLs come from someone else's database, so they are fetched as an outsider's
    would be: http(s) only, public addresses only on every redirect hop (unless
    `allow_private_hosts`), no credentials from .netrc and no proxies from the
    environment, streamed and cut at `max_bytes`, within one deadline per image.
    """
    downloader = downloader or Downloader(timeout=60)
    rule = public_web_rule(any_address=allow_private_hosts)
    report = ImportReport()
    done = {
        r["legacy_link_id"]
        for r in db.fetchall("SELECT legacy_link_id FROM legacy_imports WHERE status = 'imported'")
    }
    rows = list(rows)
    by_desc: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_desc.setdefault(row["desc_id"], []).append(row)
    bar = tqdm(total=len(rows), desc="legacy import", unit="img", disable=not progress)
    for desc_id, links in by_desc.items():
        owner = normalize_phone(links[0]["from_number"] or "")
        image_ids: list[int] = []
        fresh: list[dict[str, Any]] = []
        for row in links:
            bar.update(1)
            if row["link_id"] in done:
                report.already += 1
                continue
            try:
                if not owner.startswith("+"):
                    raise ValueError("no owner: from_number is empty")
                try:
                    data = downloader.fetch(row["image_link"], rule, lambda _t: max_bytes).data
                except TooLarge as exc:
                    raise MediaRejected("too_large", exc.detail) from None
                info = inspect_image(data, max_bytes, max_pixels)
                stored = catalog.store_image(owner, data, info)
                image_ids.append(stored.image.id)
                fresh.append(row)
            except (OSError, ValueError, MediaRejected, DownloadError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                report.failed[row["link_id"]] = error
                db.execute(
                    "INSERT INTO legacy_imports (legacy_link_id, legacy_desc_id, status, error)"
                    " VALUES (%s, %s, 'failed', %s) ON CONFLICT (legacy_link_id)"
                    " DO UPDATE SET status = 'failed', error = EXCLUDED.error",
                    (row["link_id"], desc_id, error),
                )
        if not fresh:
            continue
        with db.transaction():
            earlier = db.scalar(
                "SELECT description_id FROM legacy_imports WHERE legacy_desc_id = %s"
                " AND status = 'imported' AND description_id IS NOT NULL LIMIT 1",
                (desc_id,),
            )
            if earlier is not None:  # a retry: the other images of this entry came before
                db.execute(
                    "UPDATE images SET description_id = %s"
                    " WHERE owner = %s AND id = ANY(%s) AND description_id IS NULL",
                    (earlier, owner, image_ids),
                )
                entry_id = int(earlier)
            else:
                entry_id = catalog.create_entry(owner, links[0]["descricao"], image_ids).id
            if earlier is None and links[0]["created_at"] is not None:
                db.execute(
                    "UPDATE descriptions SET created_at = %s WHERE id = %s",
                    (links[0]["created_at"], entry_id),
                )
            for row in fresh:
                db.execute(
                    "INSERT INTO legacy_imports"
                    " (legacy_link_id, legacy_desc_id, description_id, status)"
                    " VALUES (%s, %s, %s, 'imported') ON CONFLICT (legacy_link_id)"
                    " DO UPDATE SET status = 'imported', error = NULL,"
                    " description_id = EXCLUDED.description_id",
                    (row["link_id"], desc_id, entry_id),
                )
        report.imported += len(fresh)
    bar.close()
    return report
