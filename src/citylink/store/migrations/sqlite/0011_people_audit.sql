-- Staff accounts and the audit log (issue 5).  A user belongs to a department (or to none, district-wide
-- staff) and carries scopes like an API key; only an Argon2 hash of the password is kept.  An API key may
-- belong to a user: it then stops working when the user is disabled.  The audit log records who read what
-- (every request made with a key, and every admin read of raw personal values, with its purpose).  Times
-- in µs since the epoch on both engines: the SQL is shared (store/base.py).
CREATE TABLE users (
  login          TEXT PRIMARY KEY,
  name           TEXT NOT NULL,
  department     TEXT,
  scopes         TEXT NOT NULL,           -- space-separated
  password_hash  TEXT,                    -- Argon2id (argon2-cffi); NULL: may hold keys, may not sign in
  created_at     INTEGER NOT NULL,
  disabled_at    INTEGER
);

ALTER TABLE api_keys ADD COLUMN user_login TEXT REFERENCES users(login);

CREATE TABLE audit_log (
  id         INTEGER PRIMARY KEY,
  at         INTEGER NOT NULL,
  reader     TEXT NOT NULL,               -- who: "admin", "key <id> (<holder>)", "user <login>"
  key_id     TEXT,
  method     TEXT NOT NULL,
  path       TEXT NOT NULL,
  query      TEXT NOT NULL DEFAULT '',
  status     INTEGER NOT NULL,
  purpose    TEXT                         -- an admin's stated reason for reading raw personal values
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_key ON audit_log(key_id, at) WHERE key_id IS NOT NULL;
