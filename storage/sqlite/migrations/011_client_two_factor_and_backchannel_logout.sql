-- Issue 15. An application may require two-factor authentication of everyone who signs in
-- to it, and may ask to be told when a user's session here ends (OpenID Connect Back-Channel
-- Logout 1.0): its backchannel_logout_uri ('' when none) receives a signed logout token,
-- with the session id (sid) always, and it says whether it needs one.
ALTER TABLE clients ADD COLUMN require_two_factor INTEGER NOT NULL DEFAULT 0
  CHECK (require_two_factor IN (0, 1));
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0
  CHECK (backchannel_logout_session_required IN (0, 1));

-- The claims an authorization request's `claims` parameter asked for by name (OIDC Core
-- §5.5), released in the id_token or at /userinfo: {"id_token":[…],"userinfo":[…]}.
ALTER TABLE grants ADD COLUMN requested_claims TEXT NOT NULL DEFAULT '{}';

-- The back-channel logout outbox: one row per application and session to tell, queued in
-- the transaction that ends the session (logout, an administrator's 2FA reset, a removed
-- member), delivered by the worker with retries (idp/oidc/backchannel_logout.h). One row per
-- (client, user, session): ending a session twice tells nobody twice.
CREATE TABLE backchannel_logouts (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  client_id       TEXT    NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  uri             TEXT    NOT NULL,
  user_id         INTEGER NOT NULL,  -- the token's sub; no foreign key: it outlives a removed user
  sid             TEXT    NOT NULL,
  jti             TEXT    NOT NULL UNIQUE,
  created_at      INTEGER NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  delivered_at    INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT    NOT NULL DEFAULT '',
  UNIQUE (client_id, user_id, sid)
) STRICT;
CREATE INDEX backchannel_logouts_due ON backchannel_logouts(next_attempt_at)
  WHERE delivered_at = 0;
