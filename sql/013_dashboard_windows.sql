-- The dashboard and the catalog browser read time windows across all users: without
-- these, each chart scanned every message or image ever stored.
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX images_created ON images (created_at);
CREATE INDEX descriptions_created ON descriptions (created_at DESC, id DESC);
