-- Media objects are deleted only after the transaction that stopped using them commits,
-- and never while any row still uses them (assistant/catalog.py: Catalog.sweep).
--
-- A key lands here (1) when a row that used it is deleted, in the deleting transaction
-- (a rollback takes the entry back with the rows), and (2) just before an object is
-- written, committed on its own, so an object whose row never commits (a crash, a
-- rolled-back message) is found again. The sweeper takes the key's advisory lock, which
-- a transaction storing the same content holds until it commits, re-checks that no row
-- uses the key, and only then deletes the object.
CREATE TABLE media_garbage (
    key       text PRIMARY KEY,
    lock_id   bigint NOT NULL,        -- advisory lock of the content (sha256 prefix)
    queued_at timestamptz NOT NULL DEFAULT now()
);

-- Voice notes are referenced from the message log: the sweeper looks them up by key.
CREATE INDEX messages_media_keys ON messages USING gin (media jsonb_path_ops)
    WHERE media <> '[]'::jsonb;

-- A reply queued with an image keeps that image until it is sent.
CREATE INDEX outbox_media_open ON outbox (media_key)
    WHERE media_key IS NOT NULL AND status IN ('pending', 'sending');
