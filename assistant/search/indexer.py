"""The background indexer of the web and worker processes: reads the text of new photos,
then embeds new or changed entries, and hashes images that have no similarity hashes yet
(rows older than sql/019), a moment after they are saved. Failures (a missing model, an
embedder that is down) never block saving: the work waits for the next round."""

from __future__ import annotations

from collections.abc import Callable

from assistant.loops import BackgroundLoop
from assistant.search.photo_index import PhotoTexts
from assistant.search.semantic import SemanticIndex


class Indexer(BackgroundLoop):
    def __init__(
        self,
        semantic: SemanticIndex | None,
        photos: PhotoTexts | None = None,
        interval: float = 1.0,
        hash_missing: Callable[[], int] | None = None,
    ):
        super().__init__("indexer", self.step_once, interval)
        self.semantic = semantic
        self.photos = photos
        # One batch of images hashed for similar photos (assistant/similar/index.py);
        # returns how many it looked at.
        self.hash_missing = hash_missing

    def step_once(self) -> None:
        # Photos first: their text changes what the entries' vectors are made of.
        if self.photos is not None:
            while self.photos.read_missing(8):
                if self.stop_event.is_set():
                    return
        if self.semantic is not None:
            self.semantic.index_missing()
        if self.hash_missing is not None:
            while self.hash_missing():
                if self.stop_event.is_set():
                    return
