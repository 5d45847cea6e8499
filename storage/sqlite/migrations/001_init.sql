-- Initial schema. Times are Unix seconds; booleans are 0/1. STRICT tables make a type
-- mismatch between the C++ binding and the column an error instead of a silent coercion.

CREATE TABLE accounts (
  id           INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE,
  issuer_label TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  enforce_two_factor INTEGER NOT NULL DEFAULT 0 CHECK (enforce_two_factor IN (0, 1)),
  mfa_settings_json  TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(mfa_settings_json))
) STRICT;

CREATE TABLE roles (
  name TEXT PRIMARY KEY
) STRICT;

CREATE TABLE role_permissions (
  role       TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
  permission TEXT NOT NULL,
  PRIMARY KEY (role, permission)
) STRICT;

INSERT INTO roles (name) VALUES ('admin'), ('member');
INSERT INTO role_permissions (role, permission) VALUES
  ('admin', 'auth_settings.view'),
  ('admin', 'auth_settings.edit'),
  ('admin', 'auth_settings.delete');

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  email         TEXT    NOT NULL,
  password_hash TEXT    NOT NULL,
  role          TEXT    NOT NULL REFERENCES roles(name),
  created_at    INTEGER NOT NULL,
  two_factor_enabled INTEGER NOT NULL DEFAULT 0 CHECK (two_factor_enabled IN (0, 1)),
  UNIQUE (account_id, email)
) STRICT;
CREATE INDEX users_by_email ON users(email);

CREATE TABLE clients (
  client_id   TEXT    PRIMARY KEY,
  is_public   INTEGER NOT NULL CHECK (is_public IN (0, 1)),
  secret_hash TEXT    NOT NULL,
  created_at  INTEGER NOT NULL
) STRICT;

-- kind 1: redirect_uris, kind 2: post_logout_redirect_uris; position keeps the list order.
CREATE TABLE client_redirect_uris (
  client_id TEXT    NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  kind      INTEGER NOT NULL CHECK (kind IN (1, 2)),
  position  INTEGER NOT NULL,
  uri       TEXT    NOT NULL,
  PRIMARY KEY (client_id, kind, position)
) STRICT;

CREATE TABLE signing_keys (
  kid                TEXT    PRIMARY KEY,
  alg                TEXT    NOT NULL,
  sealed_private_key BLOB    NOT NULL,
  public_jwk         TEXT    NOT NULL,
  active             INTEGER NOT NULL CHECK (active IN (0, 1)),
  retired            INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
  created_at         INTEGER NOT NULL,
  CHECK (NOT (active = 1 AND retired = 1))
) STRICT;
-- At most one key signs at a time.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(active) WHERE active = 1;

CREATE TABLE login_flows (
  id                   TEXT    PRIMARY KEY,
  browser_binding_hash TEXT    NOT NULL,
  csrf_token           TEXT    NOT NULL,
  request_json         TEXT    NOT NULL,
  progress_json        TEXT    NOT NULL,
  version              INTEGER NOT NULL,
  created_at           INTEGER NOT NULL,
  expires_at           INTEGER NOT NULL
) STRICT;
CREATE INDEX login_flows_by_expiry ON login_flows(expires_at);

CREATE TABLE sessions (
  id_hash    TEXT    PRIMARY KEY,
  sid        TEXT    NOT NULL UNIQUE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  auth_time  INTEGER NOT NULL,
  acr        TEXT    NOT NULL,
  amr        TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  -- When each factor was last passed in this session; 0: never.
  password_time INTEGER NOT NULL DEFAULT 0,
  mfa_time      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);

-- sid is not a foreign key: a grant outlives its session (logout deletes the session and
-- revokes the grant, which must stay to answer later replays).
CREATE TABLE grants (
  id         TEXT    PRIMARY KEY,
  client_id  TEXT    NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  sid        TEXT    NOT NULL,
  scope      TEXT    NOT NULL,
  nonce      TEXT    NOT NULL,
  auth_time  INTEGER NOT NULL,
  acr        TEXT    NOT NULL,
  amr        TEXT    NOT NULL,
  revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX grants_by_sid ON grants(sid);
CREATE INDEX grants_by_client ON grants(client_id);
CREATE INDEX grants_by_user ON grants(user_id);

CREATE TABLE auth_codes (
  code_hash      TEXT    PRIMARY KEY,
  grant_id       TEXT    NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
  redirect_uri   TEXT    NOT NULL,
  code_challenge TEXT    NOT NULL,
  used           INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
  expires_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX auth_codes_by_grant ON auth_codes(grant_id);
CREATE INDEX auth_codes_by_expiry ON auth_codes(expires_at);

CREATE TABLE tokens (
  token_hash TEXT    PRIMARY KEY,
  grant_id   TEXT    NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
  kind       INTEGER NOT NULL CHECK (kind IN (1, 2)),
  used       INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
  revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX tokens_by_grant ON tokens(grant_id);
CREATE INDEX tokens_by_expiry ON tokens(expires_at);

-- A user's second-factor credentials. secret is stored as the caller gives it (sealed with
-- SecretBox); params and state are provider-owned JSON; version is the compare-and-set
-- counter every update bumps. AUTOINCREMENT: compare-and-set goes by (id, version), so a
-- replacement must never reuse a deleted credential's id, or a stale update written for
-- the old credential (same id, same version 0) would land on the new one.
CREATE TABLE mfa_credentials (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider_id  TEXT    NOT NULL,
  secret       BLOB    NOT NULL,
  params       TEXT    NOT NULL CHECK (json_valid(params)),
  state        TEXT    NOT NULL CHECK (json_valid(state)),
  counter      INTEGER NOT NULL,
  version      INTEGER NOT NULL,
  confirmed    INTEGER NOT NULL CHECK (confirmed IN (0, 1)),
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL
) STRICT;
CREATE INDEX mfa_credentials_by_user ON mfa_credentials(user_id);

-- Failed second-step attempts per key ("user:42", "addr:127.0.0.1"); a row exists only
-- while there are failures to count.
CREATE TABLE attempts (
  key             TEXT    PRIMARY KEY,
  failures        INTEGER NOT NULL,
  last_failure_at INTEGER NOT NULL
) STRICT;

-- Append-only security log. No foreign keys: events outlive the users and accounts they
-- name, and may name none (0). AUTOINCREMENT keeps ids increasing and never reused, so
-- paging by id is stable.
CREATE TABLE audit_log (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  at         INTEGER NOT NULL,
  account_id INTEGER NOT NULL,
  user_id    INTEGER NOT NULL,
  event      TEXT    NOT NULL,
  address    TEXT    NOT NULL,
  detail     TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_log_by_account ON audit_log(account_id, id);
