-- Alarms (issue 6).  Times in µs since the epoch on both engines: the SQL is shared (store/alarms.py).
--
-- rule_state: per rule and entity, what the rule engine must remember across a restart — since when the
-- rule's condition has held (a `for 10 min` window), the deadline at which it is due to be looked at again,
-- and for rate-of-change and absence rules the recent values or the last time seen (data, JSON).
CREATE TABLE rule_state (
  rule        TEXT NOT NULL,     -- "<service>/<rule name>"
  entity      TEXT NOT NULL,
  since       INTEGER,           -- the condition has held since (NULL: it does not hold)
  due         INTEGER,           -- look again at this time (NULL: nothing pending)
  data        TEXT,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (rule, entity)
) WITHOUT ROWID;
CREATE INDEX rule_state_due ON rule_state(due) WHERE due IS NOT NULL;

-- alarms: one row per alarm, as it stands (alarms/model.py: Alarm).  At most one open alarm (active or
-- acknowledged) per rule and entity.
CREATE TABLE alarms (
  id              TEXT PRIMARY KEY,
  rule            TEXT NOT NULL,
  entity          TEXT NOT NULL,
  entity_type     TEXT NOT NULL,
  service         TEXT NOT NULL,
  department      TEXT NOT NULL,
  severity        TEXT NOT NULL,
  state           TEXT NOT NULL,   -- active | acknowledged | cleared
  raised_at       INTEGER NOT NULL,
  last_seen_at    INTEGER NOT NULL,
  count           INTEGER NOT NULL,
  body            TEXT NOT NULL,   -- the rest of the alarm (messages, values, recipients, who, when), JSON
  cleared_at      INTEGER
);
CREATE UNIQUE INDEX alarms_one_open ON alarms(rule, entity) WHERE state <> 'cleared';
CREATE INDEX alarms_raised ON alarms(raised_at);
CREATE INDEX alarms_open ON alarms(state) WHERE state <> 'cleared';

-- alarm_events: the full history, every step of every alarm (raised, repeated, acknowledged, escalated,
-- cleared), the alarm as it stood after it.
CREATE TABLE alarm_events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  alarm_id    TEXT NOT NULL,
  kind        TEXT NOT NULL,
  at          INTEGER NOT NULL,
  actor       TEXT,              -- who did it (NULL: the platform)
  comment     TEXT,
  severity    TEXT NOT NULL,
  state       TEXT NOT NULL
);
CREATE INDEX alarm_events_alarm ON alarm_events(alarm_id, seq);
