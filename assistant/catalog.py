"""The catalog: entries (descriptions) and their images, always read and written for one
owner, and the lifecycle of the media objects they use. Searching them is
`assistant/search`.

Every statement here is parameterised and carries `owner = %s`; nothing takes SQL text
from a user or a model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.db import Conn, Database
from assistant.media import (
    ImageInfo,
    MediaStore,
    content_key,
    derive,
    sha256_hex,
)
from assistant.models import Entry, ImageRecord, SearchResult
from assistant.search.engine import Search
from assistant.search.semantic import SemanticIndex, forget_vectors
from assistant.search.text import search_forms
from assistant.similar.hashes import thumbnail_hashes
from assistant.similar.index import HashIndex

log = logging.getLogger(__name__)

_IMAGE_COLS = (
    "id, owner, description_id, sha256, storage_key, content_type, byte_size, width, height,"
    " thumb_key, phash, created_at, ocr_text, ocr_confidence"
)
# Bits that may differ between two perceptual hashes of "the same photo" (of 64).
NEAR_DUPLICATE_BITS = 6
_ENTRY_COLS = "id, owner, description, caption, tags, created_at, photo_text, auto_described"
# Whether rows still use a media object. `owned`: an image or its thumbnail, or a voice
# note in the message log (deleting that row queues the key again). `waiting`: a reply
# not yet sent with it (nothing queues the key when it is sent, so the key stays queued).
_KEY_IN_USE = """
SELECT EXISTS (SELECT 1 FROM images WHERE storage_key = %(key)s)
    OR EXISTS (SELECT 1 FROM images WHERE thumb_key = %(key)s)
    OR EXISTS (SELECT 1 FROM messages WHERE media <> '[]'::jsonb
               AND media @> jsonb_build_array(jsonb_build_object('key', %(key)s::text)))
       AS owned,
    EXISTS (SELECT 1 FROM outbox WHERE media_key = %(key)s
            AND status IN ('pending', 'sending')) AS waiting
"""


def content_lock(sha: str) -> int:
    """The advisory lock id of a content (the first 60 bits of its sha256)."""
    return int(sha[:15], 16)


@dataclass(frozen=True)
class StoredImage:
    image: ImageRecord
    is_new: bool
    similar: ImageRecord | None = None  # a near-duplicate the user saved before


class Catalog:
    def __init__(
        self,
        db: Database,
        store: MediaStore,
        prefix: str = "",
        thumbnail_px: int = 320,
        semantic: SemanticIndex | None = None,
    ):
        self.db = db
        self.store = store
        self.prefix = prefix
        self.thumbnail_px = thumbnail_px
        self.searcher = Search(db, self._load_entries, semantic)

    # --- images -----------------------------------------------------------------------

    def store_image(self, owner: str, data: bytes, info: ImageInfo) -> StoredImage:
        """Keep the bytes and record the image as waiting for a description.

        The object is written before the row, so no row ever points to a missing object;
        the same bytes from the same owner are recognised and not stored twice. The
        content's lock is held until the row commits, so the sweeper cannot delete a
        shared object another user is just storing (see `sweep`).
        """
        sha = sha256_hex(data)
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (content_lock(sha),))
            existing = conn.execute(
                f"SELECT {_IMAGE_COLS} FROM images WHERE owner = %s AND sha256 = %s",
                (owner, sha),
            ).fetchone()
            if existing:
                return StoredImage(ImageRecord(**existing), is_new=False)
            key = content_key(self.prefix, "images", sha, info.extension)
            thumb_key = content_key(self.prefix, "thumbs", sha, "jpg")
            thumbnail, phash = derive(data, self.thumbnail_px)
            # Objects first, row last: a failure leaves no row pointing to a missing
            # object, and the keys noted as candidates first leave no object without a
            # row if this transaction never commits.
            self._note_candidates([key, thumb_key], sha)
            if not self.store.exists(key):
                self.store.put(key, data, info.content_type)
            if not self.store.exists(thumb_key):
                self.store.put(thumb_key, thumbnail, "image/jpeg")
            # The similarity hashes come from the thumbnail (as the backfill computes
            # them for older rows): a 320 px decode, never the full-size image.
            hashes = thumbnail_hashes(thumbnail)
            similar = self.similar_image(owner, hashes[0]) if hashes else None
            row = conn.execute(
                "INSERT INTO images (owner, sha256, storage_key, content_type, byte_size,"
                " width, height, thumb_key, phash, sim_hashes)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                f" ON CONFLICT (owner, sha256) DO NOTHING RETURNING {_IMAGE_COLS}",
                (
                    owner,
                    sha,
                    key,
                    info.content_type,
                    len(data),
                    info.width,
                    info.height,
                    thumb_key,
                    phash,
                    hashes,
                ),
            ).fetchone()
            if row is None:  # the same photo arrived twice at once
                row = conn.execute(
                    f"SELECT {_IMAGE_COLS} FROM images WHERE owner = %s AND sha256 = %s",
                    (owner, sha),
                ).fetchone()
                assert row is not None
                return StoredImage(ImageRecord(**row), is_new=False)
        return StoredImage(ImageRecord(**row), is_new=True, similar=similar)

    def keep_object(self, key: str, data: bytes, content_type: str) -> None:
        """Store an object that a row of the current transaction will reference (a voice
        note in the message log), under the same rules as images."""
        sha = sha256_hex(data)
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (content_lock(sha),))
            self._note_candidates([key], sha)
            if not self.store.exists(key):
                self.store.put(key, data, content_type)

    def _note_candidates(self, keys: Sequence[str], sha: str) -> None:
        """Committed at once, outside the caller's transaction: the sweeper will look at
        these keys after that transaction ends, whichever way it ends."""
        with self.db.separate() as conn:
            conn.execute(
                "INSERT INTO media_garbage (key, lock_id) SELECT k, %s FROM unnest(%s::text[]) k"
                " ON CONFLICT (key) DO NOTHING",
                (content_lock(sha), list(keys)),
            )

    def sweep(self, limit: int = 200) -> int:
        """Delete the objects of `media_garbage` that no row uses; returns how many.

        Each key is examined in a transaction holding its content's advisory lock (taken
        without waiting: a key whose lock is busy is left for the next sweep), so an
        object is never deleted while a transaction storing the same content is open,
        and the reference check sees every row committed before it.
        """
        deleted = 0
        rows = self.db.fetchall(
            "SELECT key, lock_id FROM media_garbage ORDER BY queued_at LIMIT %s", (limit,)
        )
        for row in rows:
            key = row["key"]
            try:
                with self.db.transaction() as conn:
                    locked = conn.execute(
                        "SELECT pg_try_advisory_xact_lock(%s) AS ok", (row["lock_id"],)
                    ).fetchone()
                    if not (locked and locked["ok"]):
                        continue
                    use = conn.execute(_KEY_IN_USE, {"key": key}).fetchone()
                    assert use is not None
                    if use["waiting"]:
                        continue  # looked at again once the reply is sent
                    if not use["owned"]:
                        self.store.delete(key)
                        deleted += 1
                    conn.execute("DELETE FROM media_garbage WHERE key = %s", (key,))
            except Exception:  # the store is down, etc.: the key stays for the next sweep
                log.warning("could not sweep media object %s", key, exc_info=True)
        return deleted

    def similar_image(self, owner: str, whole_hash: int) -> ImageRecord | None:
        """This owner's described image whose whole-picture hash is closest to
        `whole_hash`, if it is a near-duplicate ("you already sent this photo").

        Read through the hash index (sql/019): every hash within NEAR_DUPLICATE_BITS
        shares a band with it up to one bit, so no row of the catalog is scanned."""
        found = HashIndex(self.db).whole_picture(owner, whole_hash, NEAR_DUPLICATE_BITS)
        if not found:
            return None
        rows = self.db.fetchall(
            f"SELECT {_IMAGE_COLS} FROM images WHERE owner = %s AND id = ANY(%s)"
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
            f"SELECT {_IMAGE_COLS} FROM images WHERE owner = %s AND id = ANY(%s) ORDER BY id",
            (owner, list(ids)),
        )
        return [ImageRecord(**r) for r in rows]

    def latest_image(self, owner: str, exclude: Sequence[int] = ()) -> ImageRecord | None:
        """The owner's newest image (described or waiting), other than `exclude`."""
        row = self.db.fetchone(
            f"SELECT {_IMAGE_COLS} FROM images WHERE owner = %s AND NOT (id = ANY(%s))"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            (owner, list(exclude)),
        )
        return ImageRecord(**row) if row else None

    def entries(self, owner: str, ids: Sequence[int]) -> list[Entry]:
        """This owner's entries among `ids`, with their images, in the order of `ids`."""
        with self.db.connection() as conn:
            return self._load_entries(conn, owner, ids)

    def pending_images(self, owner: str) -> list[ImageRecord]:
        rows = self.db.fetchall(
            f"SELECT {_IMAGE_COLS} FROM images WHERE owner = %s AND description_id IS NULL"
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

    def count_entries(self, owner: str) -> int:
        return int(self.db.scalar("SELECT count(*) FROM descriptions WHERE owner = %s", (owner,)))

    # --- entries ----------------------------------------------------------------------

    def create_entry(
        self,
        owner: str,
        description: str,
        image_ids: Sequence[int],
        caption: str | None = None,
        tags: Sequence[str] = (),
        *,
        auto: bool = False,
    ) -> Entry:
        """One description for the given images of this owner that still wait for one.
        `auto`: written by the assistant from the photo's text (the user's next
        description replaces it). The text already read in the images comes along."""
        forms = search_forms(" ".join([description, caption or "", " ".join(tags)]))
        with self.db.connection() as conn:
            photo = conn.execute(
                "SELECT coalesce(string_agg(ocr_text, E'\\n' ORDER BY id), '') AS text"
                " FROM images WHERE owner = %s AND id = ANY(%s) AND description_id IS NULL"
                " AND ocr_text <> ''",
                (owner, list(image_ids)),
            ).fetchone()
            photo_text = photo["text"] if photo else ""
            row = conn.execute(
                # The image count is written with the row (the images trigger then finds
                # nothing to change), so the postings are written once.
                "INSERT INTO descriptions (owner, description, caption, tags, search_forms,"
                " photo_text, photo_forms, auto_described, image_count)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, (SELECT count(*) FROM images"
                "  WHERE owner = %s AND id = ANY(%s) AND description_id IS NULL))"
                f" RETURNING {_ENTRY_COLS}",
                (
                    owner,
                    description,
                    caption,
                    list(tags),
                    forms,
                    photo_text,
                    search_forms(photo_text) if photo_text else "",
                    auto,
                    owner,
                    list(image_ids),
                ),
            ).fetchone()
            assert row is not None
            conn.execute(
                "UPDATE images SET description_id = %s"
                " WHERE owner = %s AND id = ANY(%s) AND description_id IS NULL",
                (row["id"], owner, list(image_ids)),
            )
            conn.execute(
                "INSERT INTO search_terms (owner, term)"
                " SELECT %s, t FROM descriptions, unnest(tsvector_to_array(tsv)) t"
                " WHERE id = %s AND t NOT LIKE '@%%'"
                " ON CONFLICT DO NOTHING",
                (owner, row["id"]),
            )
            entries = self._load_entries(conn, owner, [row["id"]])
        return entries[0]

    def update_entry(self, owner: str, entry_id: int, description: str) -> Entry | None:
        """Replace the description of one of this owner's entries (a user's correction)."""
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT caption, tags FROM descriptions WHERE owner = %s AND id = %s",
                (owner, entry_id),
            ).fetchone()
            if row is None:
                return None
            forms = search_forms(" ".join([description, row["caption"] or "", *row["tags"]]))
            conn.execute(
                "UPDATE descriptions SET description = %s, search_forms = %s,"
                " auto_described = false WHERE owner = %s AND id = %s",
                (description, forms, owner, entry_id),
            )
            # Search by meaning must not keep finding the entry by its old text.
            forget_vectors(conn, entry_id)
            conn.execute(
                "INSERT INTO search_terms (owner, term)"
                " SELECT %s, t FROM descriptions, unnest(tsvector_to_array(tsv)) t"
                " WHERE id = %s AND t NOT LIKE '@%%'"
                " ON CONFLICT DO NOTHING",
                (owner, entry_id),
            )
            entries = self._load_entries(conn, owner, [entry_id])
        return entries[0] if entries else None

    def get_entry(self, owner: str, entry_id: int) -> Entry | None:
        with self.db.connection() as conn:
            found = self._load_entries(conn, owner, [entry_id])
        return found[0] if found else None

    def entry_of_image(self, image: ImageRecord) -> Entry | None:
        if image.description_id is None:
            return None
        return self.get_entry(image.owner, image.description_id)

    def vocabulary(self, owner: str, limit: int = 30) -> str:
        """This owner's latest descriptions, oldest first: words a voice note is likely to
        contain (a hint to the transcriber; nobody else's words)."""
        rows = self.db.fetchall(
            "SELECT description FROM descriptions WHERE owner = %s"
            " ORDER BY created_at DESC, id DESC LIMIT %s",
            (owner, limit),
        )
        return "; ".join(r["description"][:120] for r in reversed(rows))

    def recent(self, owner: str, limit: int = 5) -> SearchResult:
        with self.db.connection() as conn:
            ids = [
                r["id"]
                for r in conn.execute(
                    "SELECT id FROM descriptions WHERE owner = %s"
                    " ORDER BY created_at DESC, id DESC LIMIT %s",
                    (owner, limit),
                )
            ]
            entries = self._load_entries(conn, owner, ids)
            totals = conn.execute(
                "SELECT (SELECT count(*) FROM descriptions WHERE owner = %s) AS e,"
                " (SELECT count(*) FROM images WHERE owner = %s"
                "  AND description_id IS NOT NULL) AS i",
                (owner, owner),
            ).fetchone()
        assert totals is not None
        return SearchResult(
            query="", entries=entries, total_entries=totals["e"], total_images=totals["i"]
        )

    def delete_entry(self, owner: str, entry_id: int) -> Entry | None:
        """Delete one of this owner's entries with its images; None if it is not theirs.

        The objects go only after this transaction commits (a rolled-back turn keeps its
        photos), and only if no other row uses them (`sweep`)."""
        with self.db.transaction() as conn:
            found = self._load_entries(conn, owner, [entry_id])
            if not found:
                return None
            conn.execute("DELETE FROM descriptions WHERE owner = %s AND id = %s", (owner, entry_id))
            self._queue_garbage(conn, found[0].images)
            self.db.after_commit(self.sweep)
        return found[0]

    def delete_image(self, owner: str, image_id: int) -> ImageRecord | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                f"DELETE FROM images WHERE owner = %s AND id = %s RETURNING {_IMAGE_COLS}",
                (owner, image_id),
            ).fetchone()
            if row is None:
                return None
            image = ImageRecord(**row)
            self._queue_garbage(conn, [image])
            self.db.after_commit(self.sweep)
        return image

    def latest_auto_entry(self, owner: str, minutes: float = 30) -> Entry | None:
        """The owner's newest item, if it is an entry the assistant described from the
        photo's text in the last `minutes` (the user's next description replaces it)."""
        latest = self.latest_item(owner)
        if latest is None or latest[0] != "entry":
            return None
        entry = self.get_entry(owner, latest[1])
        if entry is None or not entry.auto_described:
            return None
        age = self.db.scalar(
            "SELECT extract(epoch FROM now() - %s::timestamptz)", (entry.created_at,)
        )
        return entry if float(age) <= minutes * 60 else None

    def latest_item(self, owner: str) -> tuple[str, int] | None:
        """The newest thing the owner saved: ("entry", id) or a waiting ("image", id)."""
        row = self.db.fetchone(
            "SELECT kind, id FROM ("
            " (SELECT 'entry' AS kind, id, created_at FROM descriptions WHERE owner = %s"
            "  ORDER BY created_at DESC, id DESC LIMIT 1)"
            " UNION ALL"
            " (SELECT 'image', id, created_at FROM images"
            "  WHERE owner = %s AND description_id IS NULL"
            "  ORDER BY created_at DESC, id DESC LIMIT 1)) t"
            " ORDER BY created_at DESC LIMIT 1",
            (owner, owner),
        )
        return (row["kind"], row["id"]) if row else None

    @staticmethod
    def _queue_garbage(conn: Conn, images: Sequence[ImageRecord]) -> None:
        """In the deleting transaction: if it rolls back, nothing is queued."""
        values = [
            (key, content_lock(image.sha256))
            for image in images
            for key in filter(None, [image.storage_key, image.thumb_key])
        ]
        if values:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO media_garbage (key, lock_id) VALUES (%s, %s)"
                    " ON CONFLICT (key) DO NOTHING",
                    values,
                )

    def _load_entries(self, conn: Conn, owner: str | None, ids: Sequence[int]) -> list[Entry]:
        """Entries with their images, in the order of `ids` (one round trip): this owner's
        only, or anyone's for `owner=None` (the admin pages, never a user's tools)."""
        if not ids:
            return []
        rows = conn.execute(
            f"SELECT {_ENTRY_COLS}, (SELECT coalesce(json_agg(i ORDER BY i.created_at, i.id),"
            " '[]') FROM (SELECT " + _IMAGE_COLS + " FROM images"
            "  WHERE owner = d.owner AND description_id = d.id) AS i) AS images"
            " FROM descriptions d WHERE (%s::text IS NULL OR owner = %s) AND id = ANY(%s)",
            (owner, owner, list(ids)),
        ).fetchall()
        by_id = {
            r["id"]: Entry(**{**r, "images": [ImageRecord(**img) for img in r["images"]]})
            for r in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    def entries_for_admin(self, ids: Sequence[int]) -> list[Entry]:
        """Anyone's entries by id, with their images, in one query (the admin report)."""
        with self.db.connection() as conn:
            return self._load_entries(conn, None, ids)

    # --- search (assistant/search) ----------------------------------------------------

    def search(self, owner: str, query: str, limit: int = 5) -> SearchResult:
        """This owner's entries for a query (see `assistant.search.engine.Search`)."""
        return self.searcher.search(owner, query, limit)

    @property
    def semantic(self) -> SemanticIndex | None:
        return self.searcher.semantic

    @semantic.setter
    def semantic(self, index: SemanticIndex | None) -> None:
        self.searcher.semantic = index
