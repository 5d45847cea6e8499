-- Provider interface version 2 (plugin/mfa_provider.h): a credential carries the label the
-- user sees ("Authenticator app", "YubiKey 12345678") and the key that names it from a
-- response (a YubiKey's token ID, a WebAuthn credential ID), so the second step checks only
-- the credential a response belongs to. '' for rows written before this migration: the
-- label then is the provider's display name, and TOTP and recovery codes have no lookup key.
ALTER TABLE mfa_credentials ADD COLUMN label TEXT NOT NULL DEFAULT '';
ALTER TABLE mfa_credentials ADD COLUMN lookup_key TEXT NOT NULL DEFAULT '';
