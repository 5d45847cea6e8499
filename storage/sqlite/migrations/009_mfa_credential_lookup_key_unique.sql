-- A non-empty lookup key names one credential of its provider among all users' (a YubiKey's
-- token ID names one key), so the second step can find the credential a response belongs
-- to. Rows with no lookup key ('', TOTP and recovery codes) are left out of the index.
CREATE UNIQUE INDEX mfa_credentials_by_lookup_key ON mfa_credentials(provider_id, lookup_key)
  WHERE lookup_key <> '';
