-- API tokens for the admin API (idp/store/admin_store.h). Only the SHA-256 of a token is stored;
-- revoked tokens stay, with revoked_at set, so the audit trail can name them.
CREATE TABLE api_tokens (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name       TEXT    NOT NULL,
  token_hash TEXT    NOT NULL UNIQUE CHECK (token_hash <> ''),
  created_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX api_tokens_by_account ON api_tokens(account_id, id);
