-- Where each polled source's reading got to: the cursor sent as the next request's since-parameter.
CREATE TABLE poll_cursors (
  source      TEXT PRIMARY KEY,
  cursor      TEXT NOT NULL,
  updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
