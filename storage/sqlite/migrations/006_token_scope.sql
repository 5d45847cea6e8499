-- The scope of an access token when a refresh request narrowed it (RFC 6749 §6); empty means
-- the grant's whole scope.
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT '';
