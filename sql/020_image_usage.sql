-- Images created per user and UTC day (issue #27): counted against LIMIT_IMAGES_PER_DAY;
-- their list price is added to cost_usd (the daily model budget) and the tokens the
-- Images API reports to tokens, in the message's own transaction like the rest.
ALTER TABLE usage_daily ADD COLUMN images integer NOT NULL DEFAULT 0;
