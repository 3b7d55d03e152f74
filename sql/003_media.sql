-- Thumbnails stored beside each image, and a perceptual hash to spot near-duplicates.
ALTER TABLE images ADD COLUMN thumb_key text;
-- 64-bit difference hash (assistant/media.py: dhash), as a signed bigint.
ALTER TABLE images ADD COLUMN phash bigint;
CREATE INDEX images_owner_phash ON images (owner) WHERE phash IS NOT NULL;
CREATE INDEX images_thumb_key ON images (thumb_key);

-- Legacy import bookkeeping: which reference rows were imported (resumable), and why
-- the others failed.
CREATE TABLE legacy_imports (
    legacy_link_id  integer PRIMARY KEY,
    legacy_desc_id  integer,
    description_id  bigint REFERENCES descriptions (id) ON DELETE SET NULL,
    status          text NOT NULL CHECK (status IN ('imported', 'failed')),
    error           text,
    imported_at     timestamptz NOT NULL DEFAULT now()
);
