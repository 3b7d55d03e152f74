-- When a send started: an "uncertain" send (its sender died, or Twilio's answer never
-- came) is settled by asking Twilio which messages went to that recipient since then.
ALTER TABLE outbox ADD COLUMN sending_at timestamptz;
CREATE INDEX outbox_uncertain ON outbox (id) WHERE status = 'uncertain';
