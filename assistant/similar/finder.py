"""Photos similar to one photo, in three kinds, each labelled as what it is:

- `near_duplicate`: the same photo re-sent, resized, recompressed, cropped, rotated,
  brightened or screenshotted. Candidates come from the hash index (`index`), and each
  is confirmed by matching local features of the two thumbnails (`verify`): a shared
  hash alone is never presented as "the same photo".
- `same_document`: another photo of the same paper, its text (OCR) largely the same
  (`documents`).
- `same_subject`: only a suggestion, found by meaning (`assistant/search/semantic.py`)
  from the photo's caption (a model's), its description, or its text.

Everything is read for one owner: no argument can name another user's photo.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from pydantic import BaseModel, Field

from assistant.catalog import Catalog
from assistant.media import derive
from assistant.media.store import MediaStore
from assistant.models import Entry, ImageRecord
from assistant.search.photo_index import PhotoTexts
from assistant.similar.documents import SameDocument
from assistant.similar.hashes import query_hashes, stored_boxes
from assistant.similar.index import HashIndex
from assistant.similar.verify import FEW_FEATURES, Features, same_photo

log = logging.getLogger(__name__)

Kind = Literal["near_duplicate", "same_document", "same_subject"]
KINDS: tuple[Kind, ...] = ("near_duplicate", "same_document", "same_subject")
# Candidates whose thumbnails are compared feature by feature (the closest hashes first):
# this bounds a query's cost whatever the catalog's size.
VERIFY_AT_MOST = 4
CLOSE_AS_CONFIRMED = 2  # bits
# Feature work beside a query's own thread (OpenCV and the decoders let go of the GIL).
_FEATURES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="similar-features")
MEANING_TEXT_CHARS = 400


class Similar(BaseModel):
    kind: Kind
    entry: Entry
    image: ImageRecord
    score: float  # matched features (near-duplicate), word overlap, or meaning z-score


class SimilarResult(BaseModel):
    query_image_id: int | None = None
    items: list[Similar] = Field(default_factory=list)
    searched: list[Kind] = Field(default_factory=list)  # the kinds that could be looked for
    # What the meaning search read: "caption" (a model's), "description", "photo_text".
    meaning_from: str | None = None
    photo_text: str = ""  # the query photo's text, when it has any

    def of_kind(self, kind: Kind) -> list[Similar]:
        return [s for s in self.items if s.kind == kind]


class SimilarPhotos:
    def __init__(self, catalog: Catalog, photos: PhotoTexts | None = None, ocr_seconds: float = 4):
        self.catalog = catalog
        self.db = catalog.db
        self.store = catalog.store
        self.index = HashIndex(catalog.db)
        self.documents = SameDocument(catalog.db)
        self.photos = photos
        self.ocr_seconds = ocr_seconds

    # --- the query ----------------------------------------------------------------------

    def find(
        self,
        owner: str,
        image: ImageRecord | None = None,
        data: bytes | None = None,
        caption: str | None = None,
        limit: int = 5,
    ) -> SimilarResult:
        """Photos of `owner` similar to one of their images, or to `data` (bytes that
        passed `inspect_image`; only its thumbnail-sized decode is used)."""
        if image is not None and image.owner != owner:
            raise ValueError("not this owner's image")
        if data is None and image is not None:
            data = self.store.get(image.storage_key)
        thumb = self._thumbnail(image, data)
        result = SimilarResult(query_image_id=image.id if image else None)
        exclude = {image.id} if image else set()
        own_entry = image.description_id if image else None

        result.searched.append("near_duplicate")
        near = self.near_duplicates(owner, thumb, exclude, limit, photo=data)
        result.items += near
        taken = exclude | {s.image.id for s in near}

        text = self._photo_text(image, data)
        result.photo_text = text
        if len(text.split()) >= 3:
            result.searched.append("same_document")
            matches = self.documents.find(owner, text, taken)[:limit]
            entries = self._entries(owner, [m.description_id for m in matches])
            for match in matches:
                entry = entries.get(match.description_id)
                picture = _image_of(entry, match.image_id)
                if entry and picture and entry.id != own_entry:
                    result.items.append(
                        Similar(kind="same_document", entry=entry, image=picture, score=match.score)
                    )
                    taken.add(match.image_id)

        basis, result.meaning_from = self._meaning_basis(owner, image, caption, text)
        semantic = self.catalog.semantic
        if basis and semantic is not None and semantic.has_vectors(owner):
            result.searched.append("same_subject")
            seen = {s.entry.id for s in result.items} | {own_entry}
            try:
                found = semantic.find(owner, basis[:MEANING_TEXT_CHARS], anchored=False)
            except Exception:  # the embedder failing must not break the other kinds
                log.exception("search by meaning failed; near-duplicates and documents only")
                found = []
            ids = [f.description_id for f in found if f.description_id not in seen][:limit]
            entries = self._entries(owner, ids)
            scores = {f.description_id: f.score for f in found}
            for entry_id in ids:
                entry = entries.get(entry_id)
                if entry and entry.images:
                    result.items.append(
                        Similar(
                            kind="same_subject",
                            entry=entry,
                            image=entry.images[0],
                            score=round(scores[entry_id], 3),
                        )
                    )
        return result

    def near_duplicates(
        self, owner: str, thumb: bytes, exclude: set[int], limit: int, photo: bytes | None = None
    ) -> list[Similar]:
        """This owner's described images that are the same photo as `thumb` (the query's
        thumbnail; `photo`: its bytes, read larger for the features), confirmed by their
        features, closest first."""
        hashes = query_hashes(thumb)
        # The query's features are worked out on another core while the index is read:
        # most of a query's time is those two (the database works in its own process).
        features = _FEATURES.submit(
            Features.of_photo if photo is not None else Features.of_thumbnail,
            photo if photo is not None else thumb,
        )
        found = [c for c in self.index.candidates(owner, hashes) if c.image_id not in exclude]
        # Only described images are results (a photo waiting for its description has no
        # entry to show); the closest of them are verified.
        images = self._images(owner, [c.image_id for c in found])
        candidates = [c for c in found if c.image_id in images][:VERIFY_AT_MOST]
        if not candidates:
            features.cancel()
            return []
        # The candidates' thumbnails read and their features worked out alongside too,
        # taken in order (the closest first).
        theirs = [
            _FEATURES.submit(_stored_features, self.store, images[c.image_id]) for c in candidates
        ]
        query = features.result()
        by_variant = {q.variant: q for q in hashes}
        confirmed: list[tuple[ImageRecord, float]] = []
        worst = 64
        for candidate, pending in zip(candidates, theirs, strict=True):
            if candidate.distance > worst:
                break
            stored = images[candidate.image_id]
            loaded = pending.result()
            if loaded is None:
                continue
            thumbnail, other = loaded
            matched = by_variant.get(candidate.query_variant)
            geometry = None
            # Only pictures too plain for features are aligned by the hashes' windows.
            plain = min(query.count, other.count) < FEW_FEATURES
            if plain and matched is not None and matched.box is not None:
                geometry = (matched.box, matched.turn, stored_boxes(thumbnail)[candidate.variant])
            verdict = same_photo(query, other, candidate.distance, geometry)
            if verdict:
                confirmed.append((stored, verdict.score))
                # Copies of one photo hash alike: once one is confirmed, only candidates
                # about as close are worth their features.
                worst = candidate.distance + CLOSE_AS_CONFIRMED
            if len(confirmed) >= limit:
                break
        for pending in theirs:
            pending.cancel()
        entries = self._entries(
            owner, [img.description_id for img, _ in confirmed if img.description_id]
        )
        near: list[Similar] = []
        for img, score in confirmed:
            entry = entries.get(img.description_id or 0)
            if entry is not None:
                near.append(Similar(kind="near_duplicate", entry=entry, image=img, score=score))
        return near

    # --- helpers ------------------------------------------------------------------------

    def _thumbnail(self, image: ImageRecord | None, data: bytes | None) -> bytes:
        if image is not None and image.thumb_key:
            return self.store.get(image.thumb_key)
        if data is None:
            raise ValueError("an image or its bytes are needed")
        return derive(data, self.catalog.thumbnail_px)

    def _photo_text(self, image: ImageRecord | None, data: bytes | None) -> str:
        """The query photo's text: as read already, else read now within the budget."""
        if image is not None and image.ocr_text is not None:
            return image.ocr_text
        if self.photos is None or self.ocr_seconds <= 0:
            return ""
        if image is not None:
            found = self.photos.read_within(
                image, data or self.store.get(image.storage_key), self.ocr_seconds
            )
        elif data is not None:
            found = self.photos.reader.read(data)
        else:
            return ""
        return (
            found.text
            if found is not None and found.readable(min_chars=3, min_confidence=0.5, min_lines=1)
            else ""
        )

    def _meaning_basis(
        self, owner: str, image: ImageRecord | None, caption: str | None, text: str
    ) -> tuple[str, str | None]:
        if caption and caption.strip():
            return caption.strip(), "caption"
        if image is not None and image.description_id is not None:
            entry = self.catalog.get_entry(owner, image.description_id)
            if entry is not None:
                words = " ".join([entry.description, entry.caption or "", *entry.tags]).strip()
                return words, "description"
        if text.strip():
            return text.strip(), "photo_text"
        return "", None

    def _images(self, owner: str, ids: list[int]) -> dict[int, ImageRecord]:
        found = self.catalog.images_by_id(owner, ids)
        return {img.id: img for img in found if img.description_id is not None}

    def _entries(self, owner: str, ids: list[int]) -> dict[int, Entry]:
        return {e.id: e for e in self.catalog.entries(owner, ids)}


def _stored_features(store: MediaStore, image: ImageRecord) -> tuple[bytes, Features] | None:
    """A catalog image's thumbnail and its features; None when it is missing or
    unreadable (then it is not confirmed)."""
    if image.thumb_key is None:
        return None
    try:
        thumbnail = store.get(image.thumb_key)
        return thumbnail, Features.of_thumbnail(thumbnail)
    except Exception:
        log.warning("thumbnail of image %s unreadable", image.id, exc_info=True)
        return None


def _image_of(entry: Entry | None, image_id: int) -> ImageRecord | None:
    if entry is None:
        return None
    return next((i for i in entry.images if i.id == image_id), None)
