-- Issue 15 items 3 and 4: refresh tokens by policy, consent.
-- refresh_tokens: 0 never, 1 when the request has offline_access, 2 always. Clients registered
-- before this migration always received one, and keep doing so; new clients default to 1
-- (set by the code that creates them). refresh_idle_ttl: seconds a refresh token lives unused
-- (0: the server's refresh_token_ttl); refresh_absolute_ttl: seconds after the sign-in past
-- which the grant refreshes no more (0: no limit). first_party: no consent page.
ALTER TABLE clients ADD COLUMN refresh_tokens INTEGER NOT NULL DEFAULT 2
  CHECK (refresh_tokens IN (0, 1, 2));
ALTER TABLE clients ADD COLUMN refresh_idle_ttl INTEGER NOT NULL DEFAULT 0
  CHECK (refresh_idle_ttl >= 0);
ALTER TABLE clients ADD COLUMN refresh_absolute_ttl INTEGER NOT NULL DEFAULT 0
  CHECK (refresh_absolute_ttl >= 0);
ALTER TABLE clients ADD COLUMN first_party INTEGER NOT NULL DEFAULT 1
  CHECK (first_party IN (0, 1));

-- The scopes a user allowed a third-party client, remembered until the user revokes them
-- (profile, "Apps with access"). scope is space-separated.
CREATE TABLE consents (
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id  TEXT    NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  scope      TEXT    NOT NULL,
  granted_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, client_id)
) STRICT;

-- An authorization request waiting on the consent page, bound to the session it was made in
-- (sid). request_json is owned by idp/ (the validated AuthRequest). Single use.
CREATE TABLE consent_requests (
  id           TEXT    PRIMARY KEY,
  sid          TEXT    NOT NULL,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  request_json TEXT    NOT NULL,
  expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX consent_requests_by_expiry ON consent_requests(expires_at);
CREATE INDEX grants_by_user_client ON grants(user_id, client_id);
