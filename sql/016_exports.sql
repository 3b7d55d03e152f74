-- A user's own data, by chat (issue #24): "exportar meus dados" and "apagar todos os meus
-- dados".

-- One row per export archive (a zip in the media store under an `exports/` key). Small
-- exports are built while the message is answered (status 'running' with no lease, then
-- 'ready'); big ones are queued ('pending') in the message's transaction and built by the
-- background loop, which sends the link through the outbox. Whatever its status, a row
-- past expires_at is removed with its object by the retention sweep: the row is how the
-- sweep knows the object exists, so it is written before the object.
CREATE TABLE exports (
    id          bigserial PRIMARY KEY,
    owner       text NOT NULL,
    language    text NOT NULL DEFAULT 'pt' CHECK (language IN ('pt', 'en')),
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'ready', 'failed')),
    storage_key text NOT NULL UNIQUE,
    photos      integer,
    bytes       bigint,
    attempts    integer NOT NULL DEFAULT 0,
    -- A queued export being built: taken over by another process once this has passed.
    lease_until timestamptz,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    ready_at    timestamptz,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX exports_open ON exports (id) WHERE status IN ('pending', 'running');
CREATE INDEX exports_expires ON exports (expires_at);
CREATE INDEX exports_owner ON exports (owner);

-- "Apagar todos os meus dados" waits for the confirmation word for a few minutes: the
-- request, and the id of the message that asked (the word must come in a later one).
CREATE TABLE erase_requests (
    owner        text PRIMARY KEY,
    message_id   bigint NOT NULL DEFAULT 0,
    requested_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

-- The retention sweep deletes old messages by date, and finished queue rows by date.
CREATE INDEX inbox_closed_received ON inbox (received_at)
    WHERE status NOT IN ('pending', 'processing');
CREATE INDEX outbox_closed_created ON outbox (created_at)
    WHERE status NOT IN ('pending', 'sending');
