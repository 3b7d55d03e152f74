-- One vocabulary: the user key is the owner everywhere (it was "sender" in the inbox).
ALTER TABLE inbox RENAME COLUMN sender TO owner;
ALTER INDEX inbox_sender_open RENAME TO inbox_owner_open;
ALTER INDEX inbox_sender_received RENAME TO inbox_owner_received;
-- Which kind of error ended the last attempt (an exception class name), so the last
-- attempt after AI-service failures is answered offline without parsing an error text.
ALTER TABLE inbox ADD COLUMN last_error_kind text;
