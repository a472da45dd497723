-- How each pulling adapter (HTTP poll) last fared with its source: a vendor API answering 500s or
-- garbage shows here as failing, with the error, until a poll succeeds again.
CREATE TABLE transport_health (
  source           TEXT PRIMARY KEY,
  ok               INTEGER NOT NULL,
  failures         INTEGER NOT NULL,   -- consecutive
  last_error       TEXT,
  last_success_at  INTEGER,
  last_failure_at  INTEGER,
  updated_at       INTEGER NOT NULL
) WITHOUT ROWID;
