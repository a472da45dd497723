-- Where each polled source's reading got to: the cursor sent as the next request's since-parameter.
CREATE TABLE poll_cursors (
  source      text PRIMARY KEY,
  cursor      text NOT NULL,
  updated_at  timestamptz NOT NULL
);
