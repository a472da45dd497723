-- Device and source health (issue 6): the state each device (entity) or source was last found in, since
-- when, and the last-seen time it was judged from.  Written at each change of state (and when a device is
-- first seen), never per batch: on a restart the last-seen time of a device is the newer of this one and
-- its current state's newest observedAt (entity_attrs).  kind: 'device' (id: entity id) or 'source'
-- (id: source id).  Times in µs since the epoch on both engines: the SQL is shared (store/base.py).
CREATE TABLE device_health (
  kind        text NOT NULL,
  id          text NOT NULL,
  state       text NOT NULL,     -- online | stale | offline | never_reported; active | silent | never_received
  since       bigint NOT NULL,
  last_seen   bigint,
  changed_at  bigint NOT NULL,  -- when the monitor recorded it
  PRIMARY KEY (kind, id)
);
