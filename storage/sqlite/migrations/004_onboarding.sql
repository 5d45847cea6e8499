-- Invitations and enrollment links (idp/store/onboarding_store.h). Only SHA-256 hashes of the
-- link tokens are stored. Rows stay after use, so the admin can list what happened.
CREATE TABLE invitations (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  email       TEXT    NOT NULL CHECK (email <> ''),
  role        TEXT    NOT NULL REFERENCES roles(name),
  token_hash  TEXT    NOT NULL UNIQUE CHECK (token_hash <> ''),
  invited_by  INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  accepted_at INTEGER NOT NULL DEFAULT 0,
  revoked_at  INTEGER NOT NULL DEFAULT 0,
  user_id     INTEGER NOT NULL DEFAULT 0
) STRICT;
-- At most one open (neither accepted nor revoked) invitation per email and account.
CREATE UNIQUE INDEX invitations_open ON invitations(account_id, email)
  WHERE accepted_at = 0 AND revoked_at = 0;

CREATE TABLE enrollment_links (
  token_hash TEXT    PRIMARY KEY CHECK (token_hash <> ''),
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX enrollment_links_by_user ON enrollment_links(user_id);
