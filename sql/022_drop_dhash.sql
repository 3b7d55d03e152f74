-- The 64-bit difference hash of sql/003 is no longer computed or read: near-duplicates
-- and similar photos use images.sim_hashes and image_hash_bands (sql/019). Dropping the
-- column drops its partial index (images_owner_phash) with it.
ALTER TABLE images DROP COLUMN phash;
