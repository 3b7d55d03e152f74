"""Photo text in the catalog: what the OCR read, kept per image, and per entry as
searchable text (weighted below the user's words, `sql/012_photo_text.sql`).

Images are read in the background (the indexer calls `read_missing`), or while a photo
sent alone is handled (`read_within`, with a time budget). When an entry's photo text
changes, its vectors are dropped so the indexer embeds the new text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from assistant import metrics
from assistant.db import Database
from assistant.media import MediaStore
from assistant.models import ImageRecord
from assistant.search.photo_text import PhotoText, ReadFailed, TextReader
from assistant.search.semantic import forget_vectors
from assistant.search.text import search_forms
from assistant.search.vocabulary import add_entry_terms

log = logging.getLogger(__name__)

# Reads on the reply path run here, so a read over budget can be abandoned (it finishes
# in the background; the indexer reads that image again later).
_READS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr")


class PhotoTexts:
    def __init__(
        self,
        db: Database,
        store: MediaStore,
        reader: TextReader,
        describe_pending: Callable[[ImageRecord, PhotoText], object] | None = None,
    ):
        self.db = db
        self.store = store
        self.reader = reader
        # Called for a photo still waiting for a description when its text is read in
        # the background (it was read too late while its message was answered).
        self.describe_pending = describe_pending

    # --- reading -------------------------------------------------------------------------

    def read(self, image: ImageRecord, data: bytes | None = None) -> PhotoText | None:
        """Read one image and record the result (None when it could not be read)."""
        if data is None:
            data = self.store.get(image.storage_key)
        return self._recorded(image, lambda: self._read(data))

    def read_within(self, image: ImageRecord, data: bytes, seconds: float) -> PhotoText | None:
        """`read`, giving up after `seconds` (the reply goes on without the text)."""
        future = _READS.submit(self._read, data)
        try:
            return self._recorded(image, lambda: future.result(timeout=seconds))
        except FutureTimeout:
            log.info("reading image %s took over %.1f s: left to the indexer", image.id, seconds)
            return None

    def _read(self, data: bytes) -> PhotoText:
        """The reader's one call site, timed (a read over budget is timed to its end)."""
        with metrics.timed(metrics.PHOTO_TEXT_SECONDS.labels(self.reader.name)):
            return self.reader.read(data)

    def _recorded(self, image: ImageRecord, read: Callable[[], PhotoText]) -> PhotoText | None:
        try:
            found = read()
        except ReadFailed as exc:
            log.warning("could not read the text of image %s: %s", image.id, exc)
            self.record(image, None, error=str(exc))
            return None
        self.record(image, found)
        return found

    def read_missing(self, batch: int = 8) -> int:
        """Read images nobody has read yet (the background indexer); returns how many."""
        rows = self.db.fetchall(
            "SELECT id, owner, description_id, sha256, storage_key, content_type, byte_size,"
            " created_at FROM images WHERE ocr_at IS NULL ORDER BY id LIMIT %s",
            (batch,),
        )
        for row in rows:
            image = ImageRecord(**row)
            try:
                data = self.store.get(image.storage_key)
            except Exception as exc:  # gone or unreachable: recorded, not retried forever
                self.record(image, None, error=f"{type(exc).__name__}: {exc}")
                continue
            found = self.read(image, data)
            if found is not None and found.readable() and self.describe_pending is not None:
                still_waiting = self.db.scalar(
                    "SELECT description_id IS NULL FROM images WHERE id = %s", (image.id,)
                )
                if still_waiting:
                    self.describe_pending(image, found)
        return len(rows)

    def count_missing(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM images WHERE ocr_at IS NULL"))

    # --- recording ----------------------------------------------------------------------

    def record(self, image: ImageRecord, found: PhotoText | None, error: str | None = None) -> None:
        text = (
            found.text
            if found and found.readable(min_chars=3, min_confidence=0.5, min_lines=1)
            else ""
        )
        self.db.execute(
            "UPDATE images SET ocr_text = %s, ocr_confidence = %s, ocr_engine = %s,"
            " ocr_at = now(), ocr_error = %s WHERE id = %s",
            (
                text,
                round(found.confidence, 4) if found else None,
                self.reader.name,
                error[:500] if error else None,
                image.id,
            ),
        )
        entry_id = self.db.scalar("SELECT description_id FROM images WHERE id = %s", (image.id,))
        if entry_id is not None:
            self.refresh_entry(int(entry_id))

    def refresh_entry(self, entry_id: int) -> bool:
        """Recompute an entry's photo text from its images; True when it changed."""
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT d.photo_text AS old, coalesce((SELECT string_agg(i.ocr_text, E'\\n'"
                " ORDER BY i.id) FROM images i WHERE i.description_id = d.id"
                " AND i.ocr_text <> ''), '') AS new FROM descriptions d WHERE d.id = %s",
                (entry_id,),
            ).fetchone()
            if row is None or row["old"] == row["new"]:
                return False
            conn.execute(
                "UPDATE descriptions SET photo_text = %s, photo_forms = %s WHERE id = %s",
                (row["new"], search_forms(row["new"]) if row["new"] else "", entry_id),
            )
            # The photo's words join the owner's vocabulary (typo correction).
            add_entry_terms(conn, entry_id)
            forget_vectors(conn, entry_id)  # the embedded text changed
        return True
