-- The dashboard's sign-in sessions (issue 7).  The browser holds a random session id in an HttpOnly cookie;
-- only its SHA-256 is kept here, with the CSRF token the page sends back on every change.  A session ends
-- when its holder signs out, when it expires, or when its account is disabled (the join in store/sessions.py
-- reads the account's state on every request).  Times in µs since the epoch on both engines.
CREATE TABLE sessions (
  id_hash      TEXT PRIMARY KEY,
  login        TEXT NOT NULL REFERENCES users(login),
  csrf         TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  ended_at     INTEGER
);
CREATE INDEX sessions_login ON sessions(login);
