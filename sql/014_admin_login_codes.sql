-- One-time login links (assistant/web/auth.py): what `make run` prints and
-- `assistant login-link` makes, instead of a link carrying ADMIN_TOKEN (which stayed in
-- browser history and access logs for good). Only a hash of the random code is stored;
-- a code is deleted by its first use and useless after expires_at.
CREATE TABLE admin_login_codes (
    code_hash  text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX admin_login_codes_expires ON admin_login_codes (expires_at);
