-- Issue 16. "Forgot your password?": a reset link emailed to the user (idp/store/
-- password_reset_store.h). Only the SHA-256 of the link's token is stored. A user with a
-- second factor passes it before the password changes; the browser that passed it is kept
-- (SHA-256 of its flow cookie), so the pass cannot be used from another browser.
CREATE TABLE password_resets (
  token_hash    TEXT    PRIMARY KEY CHECK (token_hash <> ''),
  user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  used_at       INTEGER NOT NULL DEFAULT 0,
  verified_at   INTEGER NOT NULL DEFAULT 0,
  verified_by   TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX password_resets_by_user ON password_resets(user_id);
