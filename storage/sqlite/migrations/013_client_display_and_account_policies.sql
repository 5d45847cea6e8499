-- Issue 15 leftovers and issue 16's wording. How an application is shown to people (the
-- sign-in and consent pages, the admin page): display_name ('' shows the client_id),
-- logo_uri and home_uri ('' when none; https, or http on localhost).
ALTER TABLE clients ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN logo_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN home_uri TEXT NOT NULL DEFAULT '';

-- An account's own policy for an application (clients are server-level, accounts are not):
-- a row means the account's members need two-factor authentication to sign in to that
-- client, whatever the client's own require_two_factor says. No row: the client's setting.
CREATE TABLE account_client_policies (
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  client_id  TEXT    NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  PRIMARY KEY (account_id, client_id)
) STRICT;
