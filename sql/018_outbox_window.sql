-- The dashboard's per-channel send outcomes read a time window of the outbox (#25: sends
-- refused outside WhatsApp's 24-hour window are counted), like the other windows (013).
CREATE INDEX outbox_created ON outbox (created_at);
