-- Text read in photos (OCR, assistant/search/photo_text.py): kept per image with its
-- confidence, and per entry as searchable text weighted below the user's own words.

ALTER TABLE images
    ADD COLUMN ocr_text text,
    ADD COLUMN ocr_confidence real,
    ADD COLUMN ocr_engine text,
    ADD COLUMN ocr_at timestamptz,        -- NULL: not read yet (the indexer's to-do list)
    ADD COLUMN ocr_error text;
CREATE INDEX images_ocr_todo ON images (id) WHERE ocr_at IS NULL;

-- An entry's photo text (its images' text together), its search forms, and whether its
-- description was written by the assistant from that text (a photo sent alone): the
-- user's next description replaces such a description instead of adding an entry.
ALTER TABLE descriptions
    ADD COLUMN photo_text text NOT NULL DEFAULT '',
    ADD COLUMN photo_forms text NOT NULL DEFAULT '',
    ADD COLUMN auto_described boolean NOT NULL DEFAULT false;

-- The user's words (description, caption, tags) weigh 'A', the photo's text 'D': a word
-- found in both ranks by the former, and entries that match by the user's words come
-- before those that match only by the photo's text. The postings (entry_terms) read
-- their weights from this tsvector, so they are rebuilt.
DROP INDEX descriptions_tsv;
ALTER TABLE descriptions DROP COLUMN tsv;
ALTER TABLE descriptions ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('portuguese'::regconfig, search_forms), 'A')
    || setweight(to_tsvector('english'::regconfig, search_forms), 'A')
    || setweight(to_tsvector('portuguese'::regconfig, photo_forms), 'D')
    || setweight(to_tsvector('english'::regconfig, photo_forms), 'D')
    || array_to_tsvector(ARRAY['@' || owner])) STORED;
CREATE INDEX descriptions_tsv ON descriptions USING gin (tsv);

TRUNCATE entry_terms;
INSERT INTO entry_terms
SELECT r.* FROM descriptions d, entry_terms_rows(d) r
ORDER BY r.owner, r.term, r.description_id;
