-- NGSI-LD subscriptions (citylink.subscriptions, api/subscriptions.py): the document as the API
-- validated and normalised it, who made it, and the columns the notifier decides by.  Their delivery
-- status lives apart, so that the notifier's writes never touch a row a PATCH may be rewriting.
CREATE TABLE subscriptions (
  id           TEXT PRIMARY KEY,
  body         TEXT NOT NULL,      -- the subscription document (JSON), without the members the system keeps
  created_by   TEXT NOT NULL,      -- who created it: admin, anonymous (insecure-no-auth), later a department
  created_at   INTEGER NOT NULL,
  modified_at  INTEGER NOT NULL,
  is_active    INTEGER NOT NULL,
  expires_at   INTEGER
);
CREATE INDEX subscriptions_by_creation ON subscriptions(created_at, id);

CREATE TABLE subscription_status (
  id                   TEXT PRIMARY KEY,   -- subscriptions.id
  times_sent           INTEGER NOT NULL DEFAULT 0,
  times_failed         INTEGER NOT NULL DEFAULT 0,
  last_notification    INTEGER,
  last_success         INTEGER,
  last_failure         INTEGER,
  last_failure_reason  TEXT
) WITHOUT ROWID;
