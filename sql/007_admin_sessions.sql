-- Admin sessions of the web pages (assistant/web/auth.py). The cookie carries the random
-- session id signed with a key derived from ADMIN_TOKEN (a new token makes every old
-- cookie unreadable); the row makes logout and expiry real on the server. Only a hash of
-- the id is stored, so a database dump opens no session.
CREATE TABLE admin_sessions (
    id_hash    text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    user_agent text
);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

-- /healthz (with the token) and the admin pages count dead letters and stuck sends:
-- partial indexes keep those counts small reads however long the history grows.
CREATE INDEX inbox_dead ON inbox (id) WHERE status = 'dead';
CREATE INDEX outbox_stuck ON outbox (id) WHERE status IN ('failed', 'uncertain');
