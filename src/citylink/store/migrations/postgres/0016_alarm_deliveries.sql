-- Alarm notifications (issue 6): one row per alarm event, department and channel target (a webhook URL, or
-- one department's e-mail addresses), written 'pending' when the event happens and sent by the notifier
-- (alarms/notify/), retried with backoff until 'delivered' or 'failed'.  The row is the delivery's whole
-- state, so a restart sends what was left pending.  body: the JSON text as sent (the signature is over it).
-- next_at: when it is next due; a sender claims a row by moving next_at past the time it may take (a lease:
-- a process that dies mid-send leaves a row that is due again later).  alarm_delivery_attempts keeps every
-- attempt's outcome.  Times in µs since the epoch on both engines: the SQL is shared (store/deliveries.py).
CREATE TABLE alarm_deliveries (
  id            bigserial PRIMARY KEY,
  alarm_id      text NOT NULL,
  event_seq     bigint,
  event_kind    text NOT NULL,    -- raised | escalated | cleared
  event_at      bigint NOT NULL,
  channel       text NOT NULL,    -- webhook | email
  department    text NOT NULL,
  target        text NOT NULL,    -- the URL, or the addresses (comma-separated)
  secret_env    text,             -- a webhook's: the environment variable holding its signing secret
  body          text NOT NULL,
  status        text NOT NULL,    -- pending | delivered | failed
  attempts      integer NOT NULL DEFAULT 0,
  next_at       bigint NOT NULL,
  last_status   integer,          -- the last attempt's HTTP status or SMTP reply code
  last_error    text,
  created_at    bigint NOT NULL,
  delivered_at  bigint
);
-- the same event is queued once per target, however often it is handed in
CREATE UNIQUE INDEX alarm_deliveries_event ON alarm_deliveries (alarm_id, event_kind, event_at, channel, department, target);
CREATE INDEX alarm_deliveries_due ON alarm_deliveries (status, next_at);
CREATE INDEX alarm_deliveries_created ON alarm_deliveries (created_at);

CREATE TABLE alarm_delivery_attempts (
  delivery_id  bigint NOT NULL,
  n            integer NOT NULL,  -- 1 for the first attempt
  at           bigint NOT NULL,
  status       integer,           -- HTTP status or SMTP reply code, if one came back
  error        text,              -- NULL: delivered
  PRIMARY KEY (delivery_id, n)
);
