-- Who may use the assistant, and how much (issue #22).

-- One row per WhatsApp number that ever wrote: active (may use it), waiting (a stranger:
-- nothing they sent is kept, only this row), blocked (no reply, nothing kept).
CREATE TABLE access (
    phone          text PRIMARY KEY,
    status         text NOT NULL CHECK (status IN ('active', 'waiting', 'blocked')),
    -- How they got in: open, invite:<id>, allowlist, setting, admin, existing.
    joined_via     text,
    first_seen     timestamptz NOT NULL DEFAULT now(),
    last_seen      timestamptz NOT NULL DEFAULT now(),
    -- Messages received while not active (a stranger's count on the Users page).
    waiting_messages integer NOT NULL DEFAULT 0,
    -- When a stranger was last told the assistant is private (once per UTC day).
    noticed_at     timestamptz,
    -- Wrong invite codes: counted per number, a number stops being heard after a few.
    wrong_codes    integer NOT NULL DEFAULT 0,
    wrong_code_at  timestamptz,
    -- Per-user overrides of the default limits ({"photos_per_day": 100, ...}).
    limits         jsonb NOT NULL DEFAULT '{}',
    -- The day (UTC) this user was told the daily model budget ran out.
    budget_noted_on date
);
CREATE INDEX access_status_seen ON access (status, last_seen DESC);
CREATE INDEX access_noticed ON access (noticed_at) WHERE noticed_at IS NOT NULL;

-- Everyone who already used the assistant keeps using it.
INSERT INTO access (phone, status, joined_via, first_seen, last_seen)
SELECT phone, 'active', 'existing', created_at, last_seen_at FROM users
ON CONFLICT DO NOTHING;

CREATE TABLE invites (
    id          bigserial PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    label       text NOT NULL DEFAULT '',
    max_uses    integer NOT NULL CHECK (max_uses > 0),
    uses        integer NOT NULL DEFAULT 0,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- What each user used per UTC day: photos saved, bytes stored, seconds of voice heard,
-- model tokens and their estimated cost. One row per user and day, updated in the
-- message's own transaction (a message that fails counts nothing).
CREATE TABLE usage_daily (
    owner          text NOT NULL,
    day            date NOT NULL,
    photos         integer NOT NULL DEFAULT 0,
    bytes          bigint NOT NULL DEFAULT 0,
    voice_seconds  real NOT NULL DEFAULT 0,
    tokens         integer NOT NULL DEFAULT 0,
    cost_usd       double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, day)
);
CREATE INDEX usage_daily_day ON usage_daily (day);

-- A refused message (a stranger's, a blocked number's) is closed as 'refused', its
-- content removed: the row only remembers its MessageSid, so Twilio's retries stay
-- deduplicated.
ALTER TABLE inbox DROP CONSTRAINT inbox_status_check;
ALTER TABLE inbox ADD CONSTRAINT inbox_status_check
    CHECK (status IN ('pending', 'processing', 'done', 'dead', 'throttled', 'refused'));

-- Replies about access (a stranger told the assistant is private, a welcome, a wrong code).
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('reply', 'throttled', 'apology', 'access'));

-- Messages of people let in go first: a flood of strangers' messages (each only to be
-- refused) must not hold a member's reply for minutes. Set at the webhook from `access`.
ALTER TABLE inbox ADD COLUMN known boolean NOT NULL DEFAULT false;
CREATE INDEX inbox_open_known ON inbox (known DESC, id) WHERE status IN ('pending', 'processing');
