-- Vectors and latent terms follow the text they were made from (assistant/semantic.py).
-- A correction deletes an entry's vectors in its own transaction, and a vector is stored
-- only if the entry's text still hashes to what was embedded, so an indexer that was
-- embedding the old text at that moment cannot bring a stale vector back.
ALTER TABLE entry_vectors ADD COLUMN text_md5 text;

-- Entries an embedder refused (alone, not as part of a failing batch): skipped until
-- their text changes, instead of retrying the same first batch forever.
CREATE TABLE embedding_failures (
    description_id bigint NOT NULL REFERENCES descriptions (id) ON DELETE CASCADE,
    embedder       text NOT NULL,
    text_md5       text NOT NULL,
    error          text NOT NULL,
    failed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (description_id, embedder)
);
