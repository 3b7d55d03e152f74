-- Durable WhatsApp inbox and outbox: nothing slow happens inside the webhook request, and
-- nothing is lost or done twice when workers crash or Twilio retries.

-- One row per Twilio MessageSid (a retried webhook hits the unique key and is ignored).
-- status: pending -> processing -> done | dead (after the last attempt) | throttled.
CREATE TABLE inbox (
    id           bigserial PRIMARY KEY,
    message_sid  text NOT NULL UNIQUE,
    sender       text NOT NULL,
    payload      jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'done', 'dead', 'throttled')),
    attempts     integer NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz,
    claim_token  uuid,
    worker       text,
    last_error   text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
-- Open rows only: the claim query reads these, and they stay small however long the
-- history grows.
CREATE INDEX inbox_open ON inbox (id) WHERE status IN ('pending', 'processing');
CREATE INDEX inbox_sender_open ON inbox (sender, id) WHERE status IN ('pending', 'processing');
-- The rate limit counts a sender's recent messages.
CREATE INDEX inbox_sender_received ON inbox (sender, received_at);

-- Every message we send, written in the same transaction that finishes the inbox row, so
-- a reply exists exactly when its message counts as handled. (inbox_id, seq) is unique:
-- a reply is never queued twice.
-- status: pending -> sending -> sent | failed (permanent error or attempts exhausted)
--         | uncertain (a sender died mid-request: not resent, to never send twice).
CREATE TABLE outbox (
    id                 bigserial PRIMARY KEY,
    inbox_id           bigint REFERENCES inbox (id) ON DELETE SET NULL,
    seq                integer NOT NULL,
    kind               text NOT NULL DEFAULT 'reply'
                       CHECK (kind IN ('reply', 'throttled', 'apology')),
    recipient          text NOT NULL,
    body               text NOT NULL DEFAULT '',
    media_key          text,
    media_content_type text,
    public_base        text,
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
    attempts           integer NOT NULL DEFAULT 0,
    available_at       timestamptz NOT NULL DEFAULT now(),
    lease_until        timestamptz,
    sid                text,
    twilio_status      text,
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    sent_at            timestamptz,
    UNIQUE (inbox_id, seq)
);
CREATE INDEX outbox_open ON outbox (id) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_recipient_open ON outbox (recipient, id)
    WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_sid ON outbox (sid) WHERE sid IS NOT NULL;

-- Queue tables churn (every row is updated a few times, then left alone): vacuum and
-- analyse them far more often than the default 20 % of the table.
ALTER TABLE inbox SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01,
                       autovacuum_vacuum_threshold = 200, autovacuum_analyze_threshold = 200);
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01,
                        autovacuum_vacuum_threshold = 200, autovacuum_analyze_threshold = 200);
