"""Search: text normalisation (`text`), full-text ranking with typo tolerance (`engine`),
search by meaning (`semantic`, with the embedders of `embeddings`), and the naive
baseline it is measured against (`baseline`)."""

from assistant.search.engine import Search

__all__ = ["Search"]
