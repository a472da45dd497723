-- Staff accounts and the audit log (issue 5).  A user belongs to a department (or to none, district-wide
-- staff) and carries scopes like an API key; only an Argon2 hash of the password is kept.  An API key may
-- belong to a user: it then stops working when the user is disabled.  The audit log records who read what
-- (every request made with a key, and every admin read of raw personal values, with its purpose).  Times
-- in µs since the epoch on both engines: the SQL is shared (store/base.py).
CREATE TABLE users (
  login          text PRIMARY KEY,
  name           text NOT NULL,
  department     text,
  scopes         text NOT NULL,           -- space-separated
  password_hash  text,                    -- Argon2id (argon2-cffi); NULL: may hold keys, may not sign in
  created_at     bigint NOT NULL,
  disabled_at    bigint
);

ALTER TABLE api_keys ADD COLUMN user_login text REFERENCES users(login);

CREATE TABLE audit_log (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at         bigint NOT NULL,
  reader     text NOT NULL,               -- who: "admin", "key <id> (<holder>)", "user <login>"
  key_id     text,
  method     text NOT NULL,
  path       text NOT NULL,
  query      text NOT NULL DEFAULT '',
  status     integer NOT NULL,
  purpose    text                         -- an admin's stated reason for reading raw personal values
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_key ON audit_log(key_id, at) WHERE key_id IS NOT NULL;
