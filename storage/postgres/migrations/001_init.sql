-- The PostgreSQL schema, equal in content to storage/sqlite/migrations/001-012 (one table for
-- one table, the same columns and constraints), so `keystep store copy` moves rows as they
-- are. Times are Unix seconds (BIGINT); ids that must never be reused are BIGSERIAL
-- (sequences never hand a number out twice, as SQLite's AUTOINCREMENT). JSON columns stay
-- text, kept as written, and are checked by a cast: text that is not JSON fails the insert
-- with 22P02 (kInvalidArgument).

CREATE TABLE accounts (
  id                 BIGSERIAL PRIMARY KEY,
  name               TEXT    NOT NULL UNIQUE,
  issuer_label       TEXT    NOT NULL,
  created_at         BIGINT  NOT NULL,
  enforce_two_factor BOOLEAN NOT NULL DEFAULT FALSE,
  mfa_settings_json  TEXT    NOT NULL DEFAULT '{}'
    CONSTRAINT accounts_mfa_settings_json CHECK ((mfa_settings_json::jsonb) IS NOT NULL)
);

CREATE TABLE roles (
  name TEXT PRIMARY KEY
);

CREATE TABLE role_permissions (
  role       TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
  permission TEXT NOT NULL,
  PRIMARY KEY (role, permission)
);

INSERT INTO roles (name) VALUES ('admin'), ('member');
INSERT INTO role_permissions (role, permission) VALUES
  ('admin', 'auth_settings.view'),
  ('admin', 'auth_settings.edit'),
  ('admin', 'auth_settings.delete');

CREATE TABLE users (
  id                 BIGSERIAL PRIMARY KEY,
  account_id         BIGINT  NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  email              TEXT    NOT NULL,
  password_hash      TEXT    NOT NULL,
  role               TEXT    NOT NULL REFERENCES roles(name),
  created_at         BIGINT  NOT NULL,
  two_factor_enabled BOOLEAN NOT NULL DEFAULT FALSE,
  display_name       TEXT    NOT NULL DEFAULT '',
  email_verified     BOOLEAN NOT NULL DEFAULT FALSE,
  UNIQUE (account_id, email)
);
CREATE INDEX users_by_email ON users(email);

CREATE TABLE clients (
  client_id                           TEXT     PRIMARY KEY,
  is_public                           BOOLEAN  NOT NULL,
  secret_hash                         TEXT     NOT NULL,
  created_at                          BIGINT   NOT NULL,
  require_two_factor                  BOOLEAN  NOT NULL DEFAULT FALSE,
  backchannel_logout_uri              TEXT     NOT NULL DEFAULT '',
  backchannel_logout_session_required BOOLEAN  NOT NULL DEFAULT FALSE,
  refresh_tokens                      SMALLINT NOT NULL DEFAULT 1 CHECK (refresh_tokens IN (0, 1, 2)),
  refresh_idle_ttl                    BIGINT   NOT NULL DEFAULT 0 CHECK (refresh_idle_ttl >= 0),
  refresh_absolute_ttl                BIGINT   NOT NULL DEFAULT 0 CHECK (refresh_absolute_ttl >= 0),
  first_party                         BOOLEAN  NOT NULL DEFAULT TRUE
);

-- kind 1: redirect_uris, kind 2: post_logout_redirect_uris; position keeps the list order.
CREATE TABLE client_redirect_uris (
  client_id TEXT     NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  kind      SMALLINT NOT NULL CHECK (kind IN (1, 2)),
  position  INTEGER  NOT NULL,
  uri       TEXT     NOT NULL,
  PRIMARY KEY (client_id, kind, position)
);

CREATE TABLE client_allowed_origins (
  client_id TEXT    NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  position  INTEGER NOT NULL,
  origin    TEXT    NOT NULL,
  PRIMARY KEY (client_id, position),
  UNIQUE (client_id, origin)
);

-- seq orders keys created in the same second (SQLite uses its rowid).
CREATE TABLE signing_keys (
  kid                TEXT      PRIMARY KEY,
  seq                BIGSERIAL NOT NULL,
  alg                TEXT      NOT NULL,
  sealed_private_key BYTEA     NOT NULL,
  public_jwk         TEXT      NOT NULL,
  active             BOOLEAN   NOT NULL,
  retired            BOOLEAN   NOT NULL DEFAULT FALSE,
  created_at         BIGINT    NOT NULL,
  CHECK (NOT (active AND retired))
);
-- At most one key signs at a time.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(active) WHERE active;

CREATE TABLE login_flows (
  id                   TEXT   PRIMARY KEY,
  browser_binding_hash TEXT   NOT NULL,
  csrf_token           TEXT   NOT NULL,
  request_json         TEXT   NOT NULL,
  progress_json        TEXT   NOT NULL,
  version              BIGINT NOT NULL,
  created_at           BIGINT NOT NULL,
  expires_at           BIGINT NOT NULL
);
CREATE INDEX login_flows_by_expiry ON login_flows(expires_at);

CREATE TABLE sessions (
  id_hash       TEXT   PRIMARY KEY,
  sid           TEXT   NOT NULL UNIQUE,
  user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  auth_time     BIGINT NOT NULL,
  acr           TEXT   NOT NULL,
  amr           TEXT   NOT NULL,
  created_at    BIGINT NOT NULL,
  expires_at    BIGINT NOT NULL,
  password_time BIGINT NOT NULL DEFAULT 0,
  mfa_time      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);

-- sid is not a foreign key: a grant outlives its session.
CREATE TABLE grants (
  id               TEXT    PRIMARY KEY,
  client_id        TEXT    NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  user_id          BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  sid              TEXT    NOT NULL,
  scope            TEXT    NOT NULL,
  nonce            TEXT    NOT NULL,
  auth_time        BIGINT  NOT NULL,
  acr              TEXT    NOT NULL,
  amr              TEXT    NOT NULL,
  revoked          BOOLEAN NOT NULL DEFAULT FALSE,
  created_at       BIGINT  NOT NULL,
  requested_claims TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX grants_by_sid ON grants(sid);
CREATE INDEX grants_by_client ON grants(client_id);
CREATE INDEX grants_by_user_client ON grants(user_id, client_id);

CREATE TABLE auth_codes (
  code_hash      TEXT    PRIMARY KEY,
  grant_id       TEXT    NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
  redirect_uri   TEXT    NOT NULL,
  code_challenge TEXT    NOT NULL,
  used           BOOLEAN NOT NULL DEFAULT FALSE,
  expires_at     BIGINT  NOT NULL
);
CREATE INDEX auth_codes_by_grant ON auth_codes(grant_id);
CREATE INDEX auth_codes_by_expiry ON auth_codes(expires_at);

CREATE TABLE tokens (
  token_hash TEXT     PRIMARY KEY,
  grant_id   TEXT     NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
  kind       SMALLINT NOT NULL CHECK (kind IN (1, 2)),
  used       BOOLEAN  NOT NULL DEFAULT FALSE,
  revoked    BOOLEAN  NOT NULL DEFAULT FALSE,
  created_at BIGINT   NOT NULL,
  expires_at BIGINT   NOT NULL,
  scope      TEXT     NOT NULL DEFAULT ''
);
CREATE INDEX tokens_by_grant ON tokens(grant_id);
CREATE INDEX tokens_by_expiry ON tokens(expires_at);

-- A user's second-factor credentials (see storage/sqlite/migrations/001_init.sql).
CREATE TABLE mfa_credentials (
  id           BIGSERIAL PRIMARY KEY,
  user_id      BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider_id  TEXT    NOT NULL,
  secret       BYTEA   NOT NULL,
  params       TEXT    NOT NULL CONSTRAINT mfa_credentials_params CHECK ((params::jsonb) IS NOT NULL),
  state        TEXT    NOT NULL CONSTRAINT mfa_credentials_state CHECK ((state::jsonb) IS NOT NULL),
  counter      BIGINT  NOT NULL,
  version      BIGINT  NOT NULL,
  confirmed    BOOLEAN NOT NULL,
  created_at   BIGINT  NOT NULL,
  last_used_at BIGINT  NOT NULL,
  label        TEXT    NOT NULL DEFAULT '',
  lookup_key   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX mfa_credentials_by_user ON mfa_credentials(user_id);
CREATE UNIQUE INDEX mfa_credentials_by_lookup_key ON mfa_credentials(provider_id, lookup_key)
  WHERE lookup_key <> '';

-- Failed second-step attempts per key; a row exists only while there are failures to count.
CREATE TABLE attempts (
  key             TEXT   PRIMARY KEY,
  failures        BIGINT NOT NULL,
  last_failure_at BIGINT NOT NULL
);

-- Append-only security log, no foreign keys.
CREATE TABLE audit_log (
  id         BIGSERIAL PRIMARY KEY,
  at         BIGINT NOT NULL,
  account_id BIGINT NOT NULL,
  user_id    BIGINT NOT NULL,
  event      TEXT   NOT NULL,
  address    TEXT   NOT NULL,
  detail     TEXT   NOT NULL,
  request_id TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_account ON audit_log(account_id, id);

-- The mail outbox (idp/store/mail_store.h).
CREATE TABLE mail_outbox (
  id              BIGSERIAL PRIMARY KEY,
  dedupe_key      TEXT   NOT NULL UNIQUE CHECK (dedupe_key <> ''),
  recipient       TEXT   NOT NULL CHECK (recipient <> ''),
  subject         TEXT   NOT NULL,
  mime            TEXT   NOT NULL CHECK (mime <> ''),
  created_at      BIGINT NOT NULL,
  attempts        BIGINT NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  sent_at         BIGINT NOT NULL,
  last_error      TEXT   NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt_at, id) WHERE sent_at = 0;
CREATE INDEX mail_outbox_by_recipient ON mail_outbox(recipient, id);

CREATE TABLE api_tokens (
  id         BIGSERIAL PRIMARY KEY,
  account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name       TEXT   NOT NULL,
  token_hash TEXT   NOT NULL UNIQUE CHECK (token_hash <> ''),
  created_at BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL DEFAULT 0,
  expires_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_by_account ON api_tokens(account_id, id);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id);

CREATE TABLE invitations (
  id          BIGSERIAL PRIMARY KEY,
  account_id  BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  email       TEXT   NOT NULL CHECK (email <> ''),
  role        TEXT   NOT NULL REFERENCES roles(name),
  token_hash  TEXT   NOT NULL UNIQUE CHECK (token_hash <> ''),
  invited_by  BIGINT NOT NULL DEFAULT 0,
  created_at  BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  accepted_at BIGINT NOT NULL DEFAULT 0,
  revoked_at  BIGINT NOT NULL DEFAULT 0,
  user_id     BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX invitations_open ON invitations(account_id, email)
  WHERE accepted_at = 0 AND revoked_at = 0;

CREATE TABLE enrollment_links (
  token_hash TEXT   PRIMARY KEY CHECK (token_hash <> ''),
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX enrollment_links_by_user ON enrollment_links(user_id);

-- The back-channel logout outbox (idp/store/logout_store.h).
CREATE TABLE backchannel_logouts (
  id              BIGSERIAL PRIMARY KEY,
  client_id       TEXT   NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  uri             TEXT   NOT NULL,
  user_id         BIGINT NOT NULL,
  sid             TEXT   NOT NULL,
  jti             TEXT   NOT NULL UNIQUE,
  created_at      BIGINT NOT NULL,
  attempts        BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  delivered_at    BIGINT NOT NULL DEFAULT 0,
  last_error      TEXT   NOT NULL DEFAULT '',
  UNIQUE (client_id, user_id, sid)
);
CREATE INDEX backchannel_logouts_due ON backchannel_logouts(next_attempt_at)
  WHERE delivered_at = 0;

CREATE TABLE consents (
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id  TEXT   NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
  scope      TEXT   NOT NULL,
  granted_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, client_id)
);

CREATE TABLE consent_requests (
  id           TEXT   PRIMARY KEY,
  sid          TEXT   NOT NULL,
  user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  request_json TEXT   NOT NULL,
  expires_at   BIGINT NOT NULL
);
CREATE INDEX consent_requests_by_expiry ON consent_requests(expires_at);
