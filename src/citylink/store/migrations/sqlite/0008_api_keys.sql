-- API keys of readers (issue 5): a key belongs to a holder (a person or a department's system), may name
-- the department it reads for, and carries scopes (staff, admin).  Only the key's SHA-256 is kept; the
-- key itself is shown once, when it is made.  Times in µs since the epoch on both engines: the SQL is
-- shared (store/base.py).
CREATE TABLE api_keys (
  id          TEXT PRIMARY KEY,          -- the public part of the key, for lists and revocation
  sha256      TEXT NOT NULL UNIQUE,
  holder      TEXT NOT NULL,
  department  TEXT,
  scopes      TEXT NOT NULL,             -- space-separated
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);
