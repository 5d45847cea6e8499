-- What SQLite's 013_client_display_and_account_policies.sql and 014_password_resets.sql
-- added (see those files for the meaning of each column).
ALTER TABLE clients ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN logo_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN home_uri TEXT NOT NULL DEFAULT '';

CREATE TABLE account_client_policies (
  account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  client_id  TEXT   NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  PRIMARY KEY (account_id, client_id)
);

CREATE TABLE password_resets (
  token_hash    TEXT    PRIMARY KEY CHECK (token_hash <> ''),
  user_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at    BIGINT  NOT NULL,
  expires_at    BIGINT  NOT NULL,
  used_at       BIGINT  NOT NULL DEFAULT 0,
  verified_at   BIGINT  NOT NULL DEFAULT 0,
  verified_by   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX password_resets_by_user ON password_resets(user_id);
