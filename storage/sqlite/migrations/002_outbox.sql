-- Email waiting for delivery (idp/store/mail_store.h). A row is inserted in the same transaction
-- as the change that causes the message and is never deleted by delivery: sent_at records
-- it, so a restart never sends it again, and dedupe_key stays taken, so repeating the
-- request that caused it queues nothing. next_attempt_at is INT64_MAX once given up.
-- AUTOINCREMENT: ids name .eml files and log lines, they must never be reused.
CREATE TABLE mail_outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  dedupe_key      TEXT    NOT NULL UNIQUE CHECK (dedupe_key <> ''),
  recipient       TEXT    NOT NULL CHECK (recipient <> ''),
  subject         TEXT    NOT NULL,
  mime            TEXT    NOT NULL CHECK (mime <> ''),
  created_at      INTEGER NOT NULL,
  attempts        INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  sent_at         INTEGER NOT NULL,
  last_error      TEXT    NOT NULL
) STRICT;
CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt_at, id) WHERE sent_at = 0;
CREATE INDEX mail_outbox_by_recipient ON mail_outbox(recipient, id);
