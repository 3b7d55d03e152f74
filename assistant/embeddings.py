"""Text embedders behind one small interface; vectors of different embedders never mix.

`name` identifies the model *and* its dimension (stored beside every vector), so changing
model or size means re-embedding, never comparing vectors from two spaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from openai import OpenAI


class Embedder(Protocol):
    name: str
    dimension: int

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class EmbeddingError(Exception):
    """The embedder failed; saving goes on without a vector (backfill catches up)."""


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings with a fixed `dimensions`, e.g.
    text-embedding-3-small at 512."""

    def __init__(self, client: OpenAI, model: str, dimensions: int, batch: int = 256):
        self.client = client
        self.model = model
        self.dimension = dimensions
        self.batch = batch
        self.name = f"openai:{model}:{dimensions}"

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch):
            chunk = [t if t.strip() else " " for t in texts[start : start + self.batch]]
            try:
                response = self.client.embeddings.create(
                    model=self.model, input=chunk, dimensions=self.dimension
                )
            except Exception as exc:  # network, auth, rate limit: the caller decides
                raise EmbeddingError(f"{type(exc).__name__}: {exc}") from exc
            ordered = sorted(response.data, key=lambda d: d.index)
            for item in ordered:
                if len(item.embedding) != self.dimension:
                    raise EmbeddingError(
                        f"{self.model} returned {len(item.embedding)} dimensions,"
                        f" expected {self.dimension}"
                    )
                vectors.append(list(item.embedding))
        return vectors

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return self._embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text])[0]
