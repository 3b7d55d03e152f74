-- Every description's tsvector also carries its owner as a lexeme ('@+5511...'). A search
-- then asks the GIN index for "these words AND this owner", and the index intersects the
-- two posting lists: a user's search reads that user's matches only, instead of every
-- user's matches filtered afterwards (which grew with the whole catalog).
DROP INDEX descriptions_tsv;
ALTER TABLE descriptions DROP COLUMN tsv;
ALTER TABLE descriptions ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
    to_tsvector('portuguese'::regconfig, search_forms)
    || to_tsvector('english'::regconfig, search_forms)
    || array_to_tsvector(ARRAY['@' || owner])) STORED;
CREATE INDEX descriptions_tsv ON descriptions USING gin (tsv);
DELETE FROM search_terms WHERE term LIKE '@%';
