-- Full-text postings per owner: one row per (owner, word form, description), kept by
-- triggers from descriptions.tsv. A search reads one B-tree range per query word form
-- (only that owner's postings, in index order, with the weight and date in the index
-- itself) and ranks by aggregating them: it never fetches the descriptions' rows or
-- computes ts_rank over every match, which was what grew with a 50k-entry user's catalog.
--
-- weight is ts_rank(tsv, '<form>', 1) of the form alone. For an OR query, Postgres'
-- ts_rank is the sum of its terms' single-term ranks divided by the number of query terms
-- (then normalised by length, as here), so summing weights orders results exactly as
-- ts_rank(tsv, any_of_the_forms, 1) did.
CREATE TABLE entry_terms (
    owner          text NOT NULL,
    term           text NOT NULL,
    description_id bigint NOT NULL,
    weight         real NOT NULL,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (owner, term, description_id) INCLUDE (weight, created_at)
);

CREATE FUNCTION entry_terms_rows(d descriptions)
RETURNS TABLE (owner text, term text, description_id bigint, weight real, created_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT d.owner, t.lexeme, d.id,
           ts_rank(d.tsv, ('''' || replace(replace(t.lexeme, '''', ''''''), '\', '') || '''')::tsquery, 1),
           d.created_at
    FROM unnest(d.tsv) AS t
    WHERE t.lexeme NOT LIKE '@%'
$$;

-- Statement-level triggers with transition tables: a bulk COPY or INSERT ... SELECT adds
-- its postings in one statement instead of one trigger call per row.
CREATE FUNCTION entry_terms_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO entry_terms
    SELECT r.* FROM new_rows n, entry_terms_rows(n::descriptions) r
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

-- Removal looks postings up by their primary key (owner, form, id) from the old tsvector,
-- so no second index on description_id is needed.
CREATE FUNCTION entry_terms_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM entry_terms e
    USING old_rows o, unnest(o.tsv) t
    WHERE e.owner = o.owner AND e.term = t.lexeme AND e.description_id = o.id;
    RETURN NULL;
END
$$;

CREATE FUNCTION entry_terms_replace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM entry_terms e
    USING old_rows o, unnest(o.tsv) t
    WHERE e.owner = o.owner AND e.term = t.lexeme AND e.description_id = o.id;
    INSERT INTO entry_terms
    SELECT r.* FROM new_rows n, entry_terms_rows(n::descriptions) r
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER descriptions_terms_insert AFTER INSERT ON descriptions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION entry_terms_add();
CREATE TRIGGER descriptions_terms_update AFTER UPDATE ON descriptions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION entry_terms_replace();
CREATE TRIGGER descriptions_terms_delete AFTER DELETE ON descriptions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION entry_terms_remove();

INSERT INTO entry_terms SELECT r.* FROM descriptions d, entry_terms_rows(d) r;
