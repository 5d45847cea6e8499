-- Issue 15. A browser app's client may name the web origins allowed to call /token and
-- /userinfo from script (CORS) besides the origins of its redirect URIs, which are allowed
-- without being listed here. Origins are stored normalized: scheme://host[:port], lower
-- case, without a default port.
CREATE TABLE client_allowed_origins (
  client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  position  INTEGER NOT NULL,
  origin    TEXT    NOT NULL,
  PRIMARY KEY (client_id, position),
  UNIQUE (client_id, origin)
) STRICT;

-- The name a user goes by (the profile scope's `name`); '' when none was given. Whether the
-- user's email address is known to reach them (joined through the invitation email's link, or
-- created by an administrator who vouched for it): the `email_verified` claim. Users created
-- before this migration are unverified, as they were always reported.
ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0
  CHECK (email_verified IN (0, 1));
