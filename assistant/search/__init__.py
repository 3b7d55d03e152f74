"""Search: text normalisation (`text`), full-text ranking with typo tolerance (`engine`,
its candidates from each owner's vocabulary, `vocabulary`), search by meaning
(`semantic`, with the embedders of `embeddings`), text in photos (`photo_text`,
`photo_index`), and the naive baseline it is measured against (`baseline`)."""

from assistant.search.engine import Search

__all__ = ["Search"]
