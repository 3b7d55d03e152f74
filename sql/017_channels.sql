-- Channels (issue #25): each inbox and outbox row records the channel it came in on or
-- goes out through; replies go out through the channel their message came in on.
ALTER TABLE inbox ADD COLUMN channel text NOT NULL DEFAULT 'twilio';
ALTER TABLE outbox ADD COLUMN channel text NOT NULL DEFAULT 'twilio';
-- A platform's message id is unique within that platform only.
ALTER TABLE inbox DROP CONSTRAINT inbox_message_sid_key;
ALTER TABLE inbox ADD CONSTRAINT inbox_channel_message_sid_key UNIQUE (channel, message_sid);
-- Recipients are phone numbers ("+5511…"); each channel writes its own address format.
UPDATE outbox SET recipient = substr(recipient, 10) WHERE recipient LIKE 'whatsapp:%';
-- Delivery statuses name the message by the platform's id, within that platform.
DROP INDEX IF EXISTS outbox_sid;
CREATE INDEX outbox_channel_sid ON outbox (channel, sid) WHERE sid IS NOT NULL;
-- The platform's own word on a sent message (queued, delivered, read, failed…).
ALTER TABLE outbox RENAME COLUMN twilio_status TO delivery_status;
