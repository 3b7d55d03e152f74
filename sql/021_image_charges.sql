-- Created images are paid for when the Images API is asked, not when the message that
-- asked commits (issue #27): the image is counted (usage_daily.images, its list price in
-- cost_usd) on a connection of its own before the request, so a message that fails later
-- still counts what it paid, and the message is marked here so that its retries do not
-- buy a second image. NULL: no image asked for (or the request cost nothing).
ALTER TABLE inbox ADD COLUMN image_asked_at timestamptz;
