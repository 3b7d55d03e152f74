-- Core schema: users, descriptions 1:N images, message log, remembered facts.
-- Every row is owned by a phone number ("owner", E.164 such as +5511999999999).

CREATE TABLE users (
    phone        text PRIMARY KEY,
    profile_name text,
    language     text NOT NULL DEFAULT 'pt' CHECK (language IN ('pt', 'en')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

-- The seed's table_descricao. search_forms is the normalised text (accents folded,
-- plurals and diminutives reduced, stop words removed) computed by assistant/text.py;
-- Postgres stems it with both the Portuguese and the English configuration.
CREATE TABLE descriptions (
    id           bigserial PRIMARY KEY,
    owner        text NOT NULL,
    description  text NOT NULL,
    caption      text,
    tags         text[] NOT NULL DEFAULT '{}',
    search_forms text NOT NULL DEFAULT '',
    tsv          tsvector GENERATED ALWAYS AS (
                     to_tsvector('portuguese'::regconfig, search_forms)
                     || to_tsvector('english'::regconfig, search_forms)) STORED,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX descriptions_owner_created ON descriptions (owner, created_at DESC, id DESC);
CREATE INDEX descriptions_tsv ON descriptions USING gin (tsv);

-- The seed's table_image_link. An image with description_id NULL waits for a description.
CREATE TABLE images (
    id             bigserial PRIMARY KEY,
    owner          text NOT NULL,
    description_id bigint REFERENCES descriptions (id) ON DELETE CASCADE,
    sha256         text NOT NULL,
    storage_key    text NOT NULL,
    content_type   text NOT NULL,
    byte_size      integer NOT NULL CHECK (byte_size > 0),
    width          integer,
    height         integer,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, sha256)
);
CREATE INDEX images_description ON images (description_id);
CREATE INDEX images_owner_pending ON images (owner, created_at) WHERE description_id IS NULL;
CREATE INDEX images_storage_key ON images (storage_key);

-- Every lexeme a user's catalog contains: the vocabulary that typo correction draws on,
-- so that no extension (pg_trgm, fuzzystrmatch) is needed.
CREATE TABLE search_terms (
    owner text NOT NULL,
    term  text NOT NULL,
    PRIMARY KEY (owner, term)
);

-- Both directions of every conversation; feeds memory, reports and analyses.
CREATE TABLE messages (
    id          bigserial PRIMARY KEY,
    owner       text NOT NULL,
    direction   text NOT NULL CHECK (direction IN ('in', 'out')),
    body        text NOT NULL DEFAULT '',
    media       jsonb NOT NULL DEFAULT '[]',
    channel     text NOT NULL DEFAULT 'test',
    external_id text,
    in_memory   boolean NOT NULL DEFAULT true,
    meta        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_owner_created ON messages (owner, created_at DESC, id DESC);
CREATE INDEX messages_memory ON messages (owner, id DESC) WHERE in_memory;

-- Facts and preferences the user asked the assistant to remember.
CREATE TABLE memory_facts (
    id         bigserial PRIMARY KEY,
    owner      text NOT NULL,
    fact       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, fact)
);

-- Views with the seed's table and column names, for tools written against the reference.
CREATE VIEW table_descricao AS
    SELECT id, description AS descricao, owner AS from_number, created_at FROM descriptions;
CREATE VIEW table_image_link AS
    SELECT id, storage_key AS image_link, description_id AS id_descricao, created_at
    FROM images;
