-- Similar photos (issue #27): several 64-bit perceptual hashes per image (the whole
-- picture, without screenshot-like borders, and sub-windows for crops; computed from the
-- stored thumbnail by assistant/similar/hashes.py), and a multi-index-hashing table that
-- finds the hashes within a few bits of a query's without scanning a user's catalog.

-- NULL: not hashed yet (the indexer's and `assistant photos hash`'s to-do list). A new
-- hashing scheme is a migration that sets it back to NULL.
ALTER TABLE images ADD COLUMN sim_hashes bigint[];
CREATE INDEX images_sim_todo ON images (id) WHERE sim_hashes IS NULL;

-- Each hash split into four 16-bit bands; `band` is (band number << 16) | its 16 bits.
-- Two hashes within 3 bits share at least one band exactly (pigeonhole), within 7 bits
-- at least one band up to one bit: a lookup is a few B-tree ranges of this owner's rows,
-- and the candidates' distances are computed on what the index itself holds.
CREATE TABLE image_hash_bands (
    owner    text NOT NULL,
    band     integer NOT NULL,
    image_id bigint NOT NULL,
    hash     bigint NOT NULL,
    variant  smallint NOT NULL,  -- position in images.sim_hashes: which window it hashes
    PRIMARY KEY (owner, band, image_id, hash) INCLUDE (variant)
);

CREATE FUNCTION hash_bands(h bigint) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[
        (0 << 16) | ((h >> 48) & 65535)::integer,
        (1 << 16) | ((h >> 32) & 65535)::integer,
        (2 << 16) | ((h >> 16) & 65535)::integer,
        (3 << 16) | (h & 65535)::integer]
$$;

CREATE FUNCTION image_hash_rows(i images)
RETURNS TABLE (owner text, band integer, image_id bigint, hash bigint, variant smallint)
LANGUAGE sql IMMUTABLE AS $$
    SELECT i.owner, b.band, i.id, h.hash, (h.n - 1)::smallint
    FROM unnest(i.sim_hashes) WITH ORDINALITY AS h(hash, n), unnest(hash_bands(h.hash)) AS b(band)
$$;

-- Kept by statement-level triggers with transition tables, like entry_terms (006): a bulk
-- load writes its bands in one statement. Removal looks the rows up by their primary key
-- from the old hashes, so no index on image_id is needed.
CREATE FUNCTION image_hash_bands_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO image_hash_bands
    SELECT r.* FROM new_rows n, image_hash_rows(n) r
    WHERE n.sim_hashes IS NOT NULL
    ORDER BY r.owner, r.band, r.image_id, r.hash, r.variant
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE FUNCTION image_hash_bands_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM image_hash_bands e
    USING old_rows o, unnest(o.sim_hashes) AS h(hash), unnest(hash_bands(h.hash)) AS b(band)
    WHERE e.owner = o.owner AND e.band = b.band AND e.image_id = o.id AND e.hash = h.hash;
    RETURN NULL;
END
$$;

-- Only rows whose hashes changed are rewritten (setting a description writes nothing).
CREATE FUNCTION image_hash_bands_replace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM image_hash_bands e
    USING old_rows o JOIN new_rows n ON n.id = o.id,
          unnest(o.sim_hashes) AS h(hash), unnest(hash_bands(h.hash)) AS b(band)
    WHERE o.sim_hashes IS DISTINCT FROM n.sim_hashes
      AND e.owner = o.owner AND e.band = b.band AND e.image_id = o.id AND e.hash = h.hash;
    INSERT INTO image_hash_bands
    SELECT r.* FROM old_rows o JOIN new_rows n ON n.id = o.id, image_hash_rows(n) r
    WHERE o.sim_hashes IS DISTINCT FROM n.sim_hashes AND n.sim_hashes IS NOT NULL
    ORDER BY r.owner, r.band, r.image_id, r.hash, r.variant
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER images_hash_bands_insert AFTER INSERT ON images
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION image_hash_bands_add();
CREATE TRIGGER images_hash_bands_update AFTER UPDATE ON images
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION image_hash_bands_replace();
CREATE TRIGGER images_hash_bands_delete AFTER DELETE ON images
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION image_hash_bands_remove();

-- "Photos similar to my latest one": the owner's newest image without a scan.
CREATE INDEX images_owner_created ON images (owner, created_at DESC, id DESC);
