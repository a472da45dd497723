-- NGSI-LD subscriptions (citylink.subscriptions, api/subscriptions.py): the document as the API
-- validated and normalised it, who made it, and the columns the notifier decides by.  Their delivery
-- status lives apart, so that the notifier's writes never touch a row a PATCH may be rewriting.
CREATE TABLE subscriptions (
  id           text PRIMARY KEY,
  body         jsonb NOT NULL,     -- the subscription document, without the members the system keeps
  created_by   text NOT NULL,      -- who created it: admin, anonymous (insecure-no-auth), later a department
  created_at   timestamptz NOT NULL,
  modified_at  timestamptz NOT NULL,
  is_active    boolean NOT NULL,
  expires_at   timestamptz
);
CREATE INDEX subscriptions_by_creation ON subscriptions(created_at, id);

CREATE TABLE subscription_status (
  id                   text PRIMARY KEY REFERENCES subscriptions(id) ON DELETE CASCADE,
  times_sent           integer NOT NULL DEFAULT 0,
  times_failed         integer NOT NULL DEFAULT 0,
  last_notification    timestamptz,
  last_success         timestamptz,
  last_failure         timestamptz,
  last_failure_reason  text
);
