"""The catalog's images as the user sees them, always read and written for one owner:
a photo kept on arrival (waiting for a description, or a near-duplicate of one saved
before), found, counted and deleted. `Catalog` (assistant/catalog.py) adds the entries;
the objects the rows use are `assistant/media/lifecycle.py`'s.

Every statement here is parameterised and carries `owner = %s`; nothing takes SQL text
from a user or a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.db import Database
from assistant.media import ImageInfo, MediaStore, content_key, derive, sha256_hex
from assistant.media.lifecycle import MediaObjects
from assistant.models import ImageRecord
from assistant.similar.hashes import thumbnail_hashes
from assistant.similar.index import HashIndex

IMAGE_COLS = (
    "id, owner, description_id, sha256, storage_key, content_type, byte_size, width, height,"
    " thumb_key, created_at, ocr_text, ocr_confidence"
)
# Bits that may differ between two perceptual hashes of "the same photo" (of 64).
NEAR_DUPLICATE_BITS = 6


@dataclass(frozen=True)
class StoredImage:
    image: ImageRecord
    is_new: bool
    similar: ImageRecord | None = None  # a near-duplicate the user saved before


class CatalogImages:
    def __init__(self, db: Database, store: MediaStore, prefix: str = "", thumbnail_px: int = 320):
        self.db = db
        self.store = store
        self.prefix = prefix
        self.thumbnail_px = thumbnail_px
        self.objects = MediaObjects(db, store)

    def store_image(self, owner: str, data: bytes, info: ImageInfo) -> StoredImage:
        """Keep the bytes and record the image as waiting for a description.

        The object is written before the row, so no row ever points to a missing object;
        the same bytes from the same owner are recognised and not stored twice. The
        content's lock is held until the row commits (see `MediaObjects.lock`).
        """
        sha = sha256_hex(data)
        with self.db.transaction() as conn:
            self.objects.lock(conn, sha)
            existing = conn.execute(
                f"SELECT {IMAGE_COLS} FROM images WHERE owner = %s AND sha256 = %s",
                (owner, sha),
            ).fetchone()
            if existing:
                return StoredImage(ImageRecord(**existing), is_new=False)
            key = content_key(self.prefix, "images", sha, info.extension)
            thumb_key = content_key(self.prefix, "thumbs", sha, "jpg")
            thumbnail = derive(data, self.thumbnail_px)
            # Objects first, row last: a failure leaves no row pointing to a missing
            # object.
            self.objects.keep(
                sha, [(key, data, info.content_type), (thumb_key, thumbnail, "image/jpeg")]
            )
            # The similarity hashes come from the thumbnail (as the backfill computes
            # them for older rows): a 320 px decode, never the full-size image.
            hashes = thumbnail_hashes(thumbnail)
            similar = self.similar_image(owner, hashes[0]) if hashes else None
            row = conn.execute(
                "INSERT INTO images (owner, sha256, storage_key, content_type, byte_size,"
                " width, height, thumb_key, sim_hashes)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                f" ON CONFLICT (owner, sha256) DO NOTHING RETURNING {IMAGE_COLS}",
                (
                    owner,
                    sha,
                    key,
                    info.content_type,
                    len(data),
                    info.width,
                    info.height,
                    thumb_key,
                    hashes,
                ),
            ).fetchone()
            if row is None:  # the same photo arrived twice at once
                row = conn.execute(
                    f"SELECT {IMAGE_COLS} FROM images WHERE owner = %s AND sha256 = %s",
                    (owner, sha),
                ).fetchone()
                assert row is not None
                return StoredImage(ImageRecord(**row), is_new=False)
        return StoredImage(ImageRecord(**row), is_new=True, similar=similar)

    def keep_object(self, key: str, data: bytes, content_type: str) -> None:
        """Store a voice note's object (see `MediaObjects.keep_object`)."""
        self.objects.keep_object(key, data, content_type)

    def sweep(self, limit: int = 200) -> int:
        """Delete the queued objects no row uses (see `MediaObjects.sweep`)."""
        return self.objects.sweep(limit)

    def similar_image(self, owner: str, whole_hash: int) -> ImageRecord | None:
        """This owner's described image whose whole-picture hash is closest to
        `whole_hash`, if it is a near-duplicate ("you already sent this photo").

        Read through the hash index (sql/019): every hash within NEAR_DUPLICATE_BITS
        shares a band with it up to one bit, so no row of the catalog is scanned."""
        found = HashIndex(self.db).whole_picture(owner, whole_hash, NEAR_DUPLICATE_BITS)
        if not found:
            return None
        rows = self.db.fetchall(
            f"SELECT {IMAGE_COLS} FROM images WHERE owner = %s AND id = ANY(%s)"
            " AND description_id IS NOT NULL",
            (owner, [image_id for image_id, _ in found]),
        )
        distance = dict(found)
        best = min(
            rows, key=lambda r: (distance[r["id"]], -r["created_at"].timestamp()), default=None
        )
        return ImageRecord(**best) if best else None

    def images_by_id(self, owner: str, ids: Sequence[int]) -> list[ImageRecord]:
        """This owner's images among `ids` (another owner's ids find nothing)."""
        rows = self.db.fetchall(
            f"SELECT {IMAGE_COLS} FROM images WHERE owner = %s AND id = ANY(%s) ORDER BY id",
            (owner, list(ids)),
        )
        return [ImageRecord(**r) for r in rows]

    def latest_image(self, owner: str, exclude: Sequence[int] = ()) -> ImageRecord | None:
        """The owner's newest image (described or waiting), other than `exclude`."""
        row = self.db.fetchone(
            f"SELECT {IMAGE_COLS} FROM images WHERE owner = %s AND NOT (id = ANY(%s))"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            (owner, list(exclude)),
        )
        return ImageRecord(**row) if row else None

    def pending_images(self, owner: str) -> list[ImageRecord]:
        rows = self.db.fetchall(
            f"SELECT {IMAGE_COLS} FROM images WHERE owner = %s AND description_id IS NULL"
            " ORDER BY created_at, id",
            (owner,),
        )
        return [ImageRecord(**r) for r in rows]

    def content_type_of(self, storage_key: str) -> str | None:
        """The detected type of a stored object (for serving it), None if unknown."""
        row = self.db.fetchone(
            "(SELECT content_type FROM images WHERE storage_key = %s LIMIT 1)"
            " UNION ALL (SELECT 'image/jpeg' FROM images WHERE thumb_key = %s LIMIT 1) LIMIT 1",
            (storage_key, storage_key),
        )
        return row["content_type"] if row else None

    def count_images(self, owner: str) -> int:
        return int(self.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (owner,)))

    def delete_image(self, owner: str, image_id: int) -> ImageRecord | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                f"DELETE FROM images WHERE owner = %s AND id = %s RETURNING {IMAGE_COLS}",
                (owner, image_id),
            ).fetchone()
            if row is None:
                return None
            image = ImageRecord(**row)
            self.objects.queue_garbage(conn, [image])
            self.db.after_commit(self.objects.sweep)
        return image
