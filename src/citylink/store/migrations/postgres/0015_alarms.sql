-- Alarms (issue 6).  Times in µs since the epoch on both engines: the SQL is shared (store/alarms.py).
--
-- rule_state: per rule and entity, what the rule engine must remember across a restart — since when the
-- rule's condition has held (a `for 10 min` window), the deadline at which it is due to be looked at again,
-- and for rate-of-change and absence rules the recent values or the last time seen (data, JSON).
CREATE TABLE rule_state (
  rule        text NOT NULL,     -- "<service>/<rule name>"
  entity      text NOT NULL,
  since       bigint,           -- the condition has held since (NULL: it does not hold)
  due         bigint,           -- look again at this time (NULL: nothing pending)
  data        text,
  updated_at  bigint NOT NULL,
  PRIMARY KEY (rule, entity)
);
CREATE INDEX rule_state_due ON rule_state(due) WHERE due IS NOT NULL;

-- alarms: one row per alarm, as it stands (alarms/model.py: Alarm).  At most one open alarm (active or
-- acknowledged) per rule and entity.
CREATE TABLE alarms (
  id              text PRIMARY KEY,
  rule            text NOT NULL,
  entity          text NOT NULL,
  entity_type     text NOT NULL,
  service         text NOT NULL,
  department      text NOT NULL,
  severity        text NOT NULL,
  state           text NOT NULL,   -- active | acknowledged | cleared
  raised_at       bigint NOT NULL,
  last_seen_at    bigint NOT NULL,
  count           bigint NOT NULL,
  body            text NOT NULL,   -- the rest of the alarm (messages, values, recipients, who, when), JSON
  cleared_at      bigint
);
CREATE UNIQUE INDEX alarms_one_open ON alarms(rule, entity) WHERE state <> 'cleared';
CREATE INDEX alarms_raised ON alarms(raised_at);
CREATE INDEX alarms_open ON alarms(state) WHERE state <> 'cleared';

-- alarm_events: the full history, every step of every alarm (raised, repeated, acknowledged, escalated,
-- cleared), the alarm as it stood after it.
CREATE TABLE alarm_events (
  seq         bigserial PRIMARY KEY,
  alarm_id    text NOT NULL,
  kind        text NOT NULL,
  at          bigint NOT NULL,
  actor       text,              -- who did it (NULL: the platform)
  comment     text,
  severity    text NOT NULL,
  state       text NOT NULL
);
CREATE INDEX alarm_events_alarm ON alarm_events(alarm_id, seq);
