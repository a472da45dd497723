-- How each pulling adapter (HTTP poll) last fared with its source: a vendor API answering 500s or
-- garbage shows here as failing, with the error, until a poll succeeds again.
CREATE TABLE transport_health (
  source           text PRIMARY KEY,
  ok               boolean NOT NULL,
  failures         integer NOT NULL,   -- consecutive
  last_error       text,
  last_success_at  timestamptz,
  last_failure_at  timestamptz,
  updated_at       timestamptz NOT NULL
);
