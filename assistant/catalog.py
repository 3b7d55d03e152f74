"""The catalog: entries (descriptions) with their images as the user sees them, always
read and written for one owner. The images alone are `CatalogImages`
(assistant/catalog_images.py), the media objects behind them (locks, deferred garbage,
the sweep) `assistant/media/lifecycle.py`; searching the entries is `assistant/search`.

Every statement here is parameterised and carries `owner = %s`; nothing takes SQL text
from a user or a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.catalog_images import IMAGE_COLS, CatalogImages
from assistant.catalog_pages import EntryFilter, entry_page
from assistant.db import Conn, Database
from assistant.media import MediaStore
from assistant.models import Entry, ImageRecord, SearchResult
from assistant.search.engine import Search
from assistant.search.semantic import SemanticIndex, forget_vectors
from assistant.search.text import search_forms
from assistant.search.vocabulary import add_entry_terms

_ENTRY_COLS = "id, owner, description, caption, tags, created_at, photo_text, auto_described"


class Catalog(CatalogImages):
    def __init__(
        self,
        db: Database,
        store: MediaStore,
        prefix: str = "",
        thumbnail_px: int = 320,
        semantic: SemanticIndex | None = None,
    ):
        super().__init__(db, store, prefix, thumbnail_px)
        self.searcher = Search(db, self._load_entries, semantic)

    def entries(self, owner: str, ids: Sequence[int]) -> list[Entry]:
        """This owner's entries among `ids`, with their images, in the order of `ids`."""
        with self.db.connection() as conn:
            return self._load_entries(conn, owner, ids)

    def count_entries(self, owner: str) -> int:
        return int(self.db.scalar("SELECT count(*) FROM descriptions WHERE owner = %s", (owner,)))

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
            add_entry_terms(conn, row["id"])
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
            add_entry_terms(conn, entry_id)
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
            self.objects.queue_garbage(conn, found[0].images)
            self.db.after_commit(self.objects.sweep)
        return found[0]

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

    def _load_entries(self, conn: Conn, owner: str | None, ids: Sequence[int]) -> list[Entry]:
        """Entries with their images, in the order of `ids` (one round trip): this owner's
        only, or anyone's for `owner=None` (the admin pages, never a user's tools)."""
        if not ids:
            return []
        rows = conn.execute(
            f"SELECT {_ENTRY_COLS}, (SELECT coalesce(json_agg(i ORDER BY i.created_at, i.id),"
            " '[]') FROM (SELECT " + IMAGE_COLS + " FROM images"
            "  WHERE owner = d.owner AND description_id = d.id) AS i) AS images"
            " FROM descriptions d WHERE (%s::text IS NULL OR owner = %s) AND id = ANY(%s)",
            (owner, owner, list(ids)),
        ).fetchall()
        by_id = {
            r["id"]: Entry(**{**r, "images": [ImageRecord(**img) for img in r["images"]]})
            for r in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    def page(self, wanted: EntryFilter, offset: int, limit: int) -> tuple[int, list[Entry]]:
        """How many entries match an admin filter, and one page of them newest first,
        with their images (anyone's unless the filter names an owner)."""
        with self.db.connection() as conn:
            total, ids = entry_page(conn, wanted, offset, limit)
            return total, self._load_entries(conn, wanted.owner, ids)

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
