"""The catalog: descriptions and their images, always read and written for one owner.

Every statement here is parameterised and carries `owner = %s`; nothing takes SQL text
from a user or a model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.db import Conn, Database
from assistant.media import (
    ImageInfo,
    MediaStore,
    content_key,
    dhash,
    make_thumbnail,
    sha256_hex,
)
from assistant.models import Entry, ImageRecord, SearchResult

if TYPE_CHECKING:
    from assistant.semantic import SemanticIndex
from assistant.text import (
    damerau_levenshtein,
    query_groups,
    search_forms,
    strip_request,
    typo_budget,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

_IMAGE_COLS = (
    "id, owner, description_id, sha256, storage_key, content_type, byte_size, width, height,"
    " thumb_key, phash, created_at"
)
# Bits that may differ between two perceptual hashes of "the same photo" (of 64).
NEAR_DUPLICATE_BITS = 6
_ENTRY_COLS = "id, owner, description, caption, tags, created_at"


@dataclass(frozen=True)
class StoredImage:
    image: ImageRecord
    is_new: bool
    similar: ImageRecord | None = None  # a near-duplicate the user saved before


def _tsquery_literal(lexemes: Sequence[str]) -> str:
    return " | ".join("'" + lex.replace("'", "''").replace("\\", "") + "'" for lex in lexemes)


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
        self.semantic = semantic

    # --- images -----------------------------------------------------------------------

    def store_image(self, owner: str, data: bytes, info: ImageInfo) -> StoredImage:
        """Keep the bytes and record the image as waiting for a description.

        The object is written before the row, so no row ever points to a missing object;
        the same bytes from the same owner are recognised and not stored twice.
        """
        sha = sha256_hex(data)
        existing = self.db.fetchone(
            f"SELECT {_IMAGE_COLS} FROM images WHERE owner = %s AND sha256 = %s", (owner, sha)
        )
        if existing:
            return StoredImage(ImageRecord(**existing), is_new=False)
        key = content_key(self.prefix, "images", sha, info.extension)
        thumb_key = content_key(self.prefix, "thumbs", sha, "jpg")
        phash = dhash(data)
        # Objects first, row last: a failure leaves no row pointing to a missing object.
        if not self.store.exists(key):
            self.store.put(key, data, info.content_type)
        if not self.store.exists(thumb_key):
            self.store.put(thumb_key, make_thumbnail(data, self.thumbnail_px), "image/jpeg")
        similar = self.similar_image(owner, phash)
        with self.db.connection() as conn:
            row = conn.execute(
                "INSERT INTO images (owner, sha256, storage_key, content_type, byte_size,"
                " width, height, thumb_key, phash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
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

    def similar_image(self, owner: str, phash: int) -> ImageRecord | None:
        """This owner's described image closest to `phash`, if it is a near-duplicate."""
        row = self.db.fetchone(
            f"SELECT {_IMAGE_COLS} FROM ("
            "  SELECT *, bit_count((phash # %s)::bit(64)) AS distance FROM images"
            "  WHERE owner = %s AND phash IS NOT NULL AND description_id IS NOT NULL) i"
            " WHERE distance <= %s ORDER BY distance, created_at DESC LIMIT 1",
            (phash, owner, NEAR_DUPLICATE_BITS),
        )
        return ImageRecord(**row) if row else None

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
    ) -> Entry:
        """One description for the given images of this owner that still wait for one."""
        forms = search_forms(" ".join([description, caption or "", " ".join(tags)]))
        with self.db.connection() as conn:
            row = conn.execute(
                "INSERT INTO descriptions (owner, description, caption, tags, search_forms)"
                f" VALUES (%s, %s, %s, %s, %s) RETURNING {_ENTRY_COLS}, tsv::text AS _tsv",
                (owner, description, caption, list(tags), forms),
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
                "UPDATE descriptions SET description = %s, search_forms = %s"
                " WHERE owner = %s AND id = %s",
                (description, forms, owner, entry_id),
            )
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
        """Delete one of this owner's entries with its images; None if it is not theirs."""
        with self.db.connection() as conn:
            found = self._load_entries(conn, owner, [entry_id])
            if not found:
                return None
            conn.execute("DELETE FROM descriptions WHERE owner = %s AND id = %s", (owner, entry_id))
        self._drop_unreferenced(found[0].images)
        return found[0]

    def delete_image(self, owner: str, image_id: int) -> ImageRecord | None:
        row = self.db.fetchone(
            f"DELETE FROM images WHERE owner = %s AND id = %s RETURNING {_IMAGE_COLS}",
            (owner, image_id),
        )
        if row is None:
            return None
        image = ImageRecord(**row)
        self._drop_unreferenced([image])
        return image

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

    def _drop_unreferenced(self, images: Sequence[ImageRecord]) -> None:
        """Content-addressed objects may be shared by users: delete only orphans (the image
        and its thumbnail), never an object another row still uses."""
        for image in {img.storage_key: img for img in images}.values():
            still_used = self.db.scalar(
                "SELECT 1 FROM images WHERE storage_key = %s", (image.storage_key,)
            )
            if still_used:
                continue
            for key in filter(None, [image.storage_key, image.thumb_key]):
                try:
                    self.store.delete(key)
                except Exception:  # an orphan object is harmless; a failed delete is not fatal
                    log.exception("could not delete media object %s", key)

    def _load_entries(self, conn: Conn, owner: str, ids: Sequence[int]) -> list[Entry]:
        if not ids:
            return []
        rows = conn.execute(
            f"SELECT {_ENTRY_COLS} FROM descriptions WHERE owner = %s AND id = ANY(%s)",
            (owner, list(ids)),
        ).fetchall()
        images: dict[int, list[ImageRecord]] = {}
        for img in conn.execute(
            f"SELECT {_IMAGE_COLS} FROM images WHERE owner = %s AND description_id = ANY(%s)"
            " ORDER BY created_at, id",
            (owner, list(ids)),
        ):
            images.setdefault(img["description_id"], []).append(ImageRecord(**img))
        by_id = {r["id"]: Entry(**r, images=images.get(r["id"], [])) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    # --- search -----------------------------------------------------------------------

    def search(self, owner: str, query: str, limit: int = 5) -> SearchResult:
        """This owner's entries for a query: full-text first, then found by meaning.

        Full-text ranking: entries matching more of the query's words first (each word
        counts once, whatever form matched), then Postgres' ts_rank normalised by length
        (a short description that is all about the word beats a long one mentioning it),
        then the newest. Entries found by meaning follow (see `assistant/semantic.py` for
        how they are admitted and ordered). No filler: unrelated entries are not returned.
        """
        subject = strip_request(query)
        with self.db.connection() as conn:
            groups = self._lexeme_groups(conn, owner, subject) if subject else []
            rows: list[dict[str, Any]] = []
            any_query = ""
            if groups:
                group_queries = [_tsquery_literal(g) for g in groups]
                any_query = _tsquery_literal(sorted({lex for g in groups for lex in g}))
                rows = conn.execute(
                    # hits = query words matched (each word's forms are one group); a sum of
                    # booleans, cheaper per row than a subquery over the groups.
                    "SELECT d.id, ("
                    + " + ".join(f"(d.tsv @@ %(g{i})s::tsquery)::int" for i in range(len(groups)))
                    + ") AS hits,"
                    " ts_rank(d.tsv, %(any)s::tsquery, 1) AS rank,"
                    " count(*) OVER () AS total"
                    " FROM descriptions d"
                    " WHERE d.owner = %(owner)s"
                    " AND d.tsv @@ (%(any)s::tsquery && %(own)s::tsquery)"
                    " ORDER BY hits DESC, rank DESC, d.created_at DESC, d.id DESC"
                    " LIMIT %(limit)s",
                    {
                        **{f"g{i}": q for i, q in enumerate(group_queries)},
                        "any": any_query,
                        "own": _tsquery_literal([f"@{owner}"]),
                        "owner": owner,
                        "limit": limit,
                    },
                ).fetchall()
        scores = {r["id"]: float(r["hits"]) + float(r["rank"]) for r in rows}
        total_entries = rows[0]["total"] if rows else 0
        extra: list[int] = []
        # Entries found by meaning rank after every full-text hit, so when the words alone
        # fill the page they cannot change it: skip the (costlier) semantic side then.
        if (
            subject
            and len(rows) < limit
            and self.semantic is not None
            and self.semantic.has_vectors(owner)
        ):
            try:
                found = self.semantic.find(owner, subject, anchored=bool(rows))
            except Exception:  # the embedder failing must not break search
                log.exception("semantic search failed; full-text results only")
                found = []
            extra = [f.description_id for f in found if f.description_id not in scores]
            if extra and any_query:
                # Entries that also match the words (beyond the page) are already counted.
                also_fts = {
                    r["id"]
                    for r in self.db.fetchall(
                        "SELECT id FROM descriptions WHERE id = ANY(%s) AND tsv @@ %s::tsquery",
                        (extra, any_query),
                    )
                }
                total_entries += len([i for i in extra if i not in also_fts])
            else:
                total_entries += len(extra)
            for f in found:
                # Shown as Entry.score: kept below any full-text score (>= 1 word matched).
                scores.setdefault(f.description_id, f.score / 100)
        ids = [r["id"] for r in rows] + extra
        with self.db.connection() as conn:
            entries = self._load_entries(conn, owner, ids[:limit])
            total_images = 0
            if ids:
                total_images = int(
                    conn.execute(
                        "SELECT count(*) AS n FROM images i JOIN descriptions d"
                        " ON d.id = i.description_id WHERE d.owner = %s AND i.owner = %s"
                        " AND (d.id = ANY(%s)"
                        + (" OR d.tsv @@ %s::tsquery)" if any_query else ")"),
                        (owner, owner, ids, any_query) if any_query else (owner, owner, ids),
                    ).fetchone()["n"]  # type: ignore[index]
                )
        for entry in entries:
            entry.score = scores.get(entry.id)
        return SearchResult(
            query=subject,
            entries=entries,
            total_entries=total_entries,
            total_images=total_images,
        )

    def _lexeme_groups(self, conn: Conn, owner: str, subject: str) -> list[list[str]]:
        """Postgres lexemes of each query word, with typo corrections from the owner's
        own vocabulary for words their catalog does not contain."""
        word_groups = query_groups(subject)
        if not word_groups:
            return []
        flat = [form for group in word_groups for form in group]
        lexemes_of: dict[str, list[str]] = {
            r["f"]: r["lex"]
            for r in conn.execute(
                "SELECT f, tsvector_to_array(to_tsvector('portuguese', f)"
                " || to_tsvector('english', f)) AS lex FROM unnest(%s::text[]) AS f",
                (flat,),
            )
        }
        groups = [
            sorted({lex for form in g for lex in lexemes_of.get(form, [])}) for g in word_groups
        ]
        groups = [g for g in groups if g]
        all_lex = sorted({lex for g in groups for lex in g})
        known = {
            r["term"]
            for r in conn.execute(
                "SELECT term FROM search_terms WHERE owner = %s AND term = ANY(%s)",
                (owner, all_lex),
            )
        }
        for group in groups:
            if known.intersection(group):
                continue
            group.extend(self._typo_candidates(conn, owner, group))
        return groups

    def _typo_candidates(self, conn: Conn, owner: str, lexemes: Sequence[str]) -> list[str]:
        """Vocabulary terms within a small edit distance. Candidates share the first two
        letters (typos there are rare and it keeps the lookup an index range scan)."""
        found: set[str] = set()
        for lex in lexemes:
            budget = typo_budget(lex)
            if budget == 0:
                continue
            start = lex[:2]
            end = start[:-1] + chr(ord(start[-1]) + 1)
            for r in conn.execute(
                "SELECT term FROM search_terms WHERE owner = %s AND term >= %s AND term < %s"
                " AND length(term) BETWEEN %s AND %s",
                (owner, start, end, len(lex) - budget, len(lex) + budget),
            ):
                if damerau_levenshtein(lex, r["term"], budget) <= budget:
                    found.add(r["term"])
        return sorted(found)

    def baseline_search(self, owner: str, query: str, limit: int = 5) -> list[int]:
        """The naive search we measure against: any query word as a substring, newest first."""
        patterns = [f"%{w}%" for w in query.split() if w]
        if not patterns:
            return []
        rows = self.db.fetchall(
            "SELECT id FROM descriptions WHERE owner = %s AND description ILIKE ANY(%s)"
            " ORDER BY created_at DESC, id DESC LIMIT %s",
            (owner, patterns, limit),
        )
        return [r["id"] for r in rows]
