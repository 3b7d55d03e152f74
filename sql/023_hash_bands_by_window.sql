-- Band keys name the window a hash covers (issue #27: a lookup at 100,000 photos read
-- ~38,000 band rows for ~1,450 keys). A query's crop window is only ever compared with
-- the stored hashes of the window it aims at (assistant/similar/hashes.py: CROP_TARGETS),
-- so a key that carries the window reads about a ninth of the rows a bare band did.
--
-- `band` is now (window << 18) | (band number << 16) | its 16 bits, with the window as
-- `hash_window()` gives it (0 the whole picture and its content, 1-9 the windows of
-- STORED_WINDOWS in their order, of either), as assistant/similar/index.py computes it.

CREATE FUNCTION hash_window(variant integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN variant < 2 THEN 0 ELSE (variant - 2) % 9 + 1 END
$$;

CREATE FUNCTION hash_bands(h bigint, win integer) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[
        (win << 18) | (0 << 16) | ((h >> 48) & 65535)::integer,
        (win << 18) | (1 << 16) | ((h >> 32) & 65535)::integer,
        (win << 18) | (2 << 16) | ((h >> 16) & 65535)::integer,
        (win << 18) | (3 << 16) | (h & 65535)::integer]
$$;

-- The same hash in two windows is two rows (one per key); in one window once, as the
-- first position holding it (a picture without borders: its content's windows are its
-- own).
CREATE OR REPLACE FUNCTION image_hash_rows(i images)
RETURNS TABLE (owner text, band integer, image_id bigint, hash bigint, variant smallint)
LANGUAGE sql IMMUTABLE AS $$
    SELECT i.owner, b.band, i.id, h.hash, (h.n - 1)::smallint
    FROM unnest(i.sim_hashes) WITH ORDINALITY AS h(hash, n),
         unnest(hash_bands(h.hash, hash_window((h.n - 1)::integer))) AS b(band)
$$;

CREATE OR REPLACE FUNCTION image_hash_bands_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM image_hash_bands e
    USING old_rows o, image_hash_rows(o) r
    WHERE e.owner = r.owner AND e.band = r.band AND e.image_id = r.image_id
      AND e.hash = r.hash;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION image_hash_bands_replace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM image_hash_bands e
    USING old_rows o JOIN new_rows n ON n.id = o.id, image_hash_rows(o) r
    WHERE o.sim_hashes IS DISTINCT FROM n.sim_hashes
      AND e.owner = r.owner AND e.band = r.band AND e.image_id = r.image_id
      AND e.hash = r.hash;
    -- The new hashes' rows, for the images whose hashes changed.
    INSERT INTO image_hash_bands
    SELECT r.* FROM new_rows n, image_hash_rows(n) r
    WHERE n.sim_hashes IS NOT NULL
      AND EXISTS (SELECT 1 FROM old_rows o
                  WHERE o.id = n.id AND o.sim_hashes IS DISTINCT FROM n.sim_hashes)
    ORDER BY r.owner, r.band, r.image_id, r.hash, r.variant
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

DROP FUNCTION hash_bands(bigint);

-- Every existing image's rows again, under the new keys (from the hashes already
-- stored: no thumbnail is read again).
TRUNCATE image_hash_bands;
INSERT INTO image_hash_bands
SELECT r.* FROM images i, image_hash_rows(i) r
WHERE i.sim_hashes IS NOT NULL
ORDER BY r.owner, r.band, r.image_id, r.hash, r.variant
ON CONFLICT DO NOTHING;
