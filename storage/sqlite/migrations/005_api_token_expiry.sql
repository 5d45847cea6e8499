-- API tokens may expire (idp/store/admin_store.h ApiToken::expires_at): 0 never, else Unix seconds
-- from which the token is refused. Tokens made before keep 0.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
-- The lost-device reset revokes a user's API tokens.
CREATE INDEX api_tokens_by_user ON api_tokens(user_id);
