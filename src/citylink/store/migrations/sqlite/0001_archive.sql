-- The linkage side: specs in force, sources and their tokens, device registries,
-- the raw archive, the quarantine and the per-source ledger.
-- Times are integer microseconds since the Unix epoch, UTC.
CREATE TABLE spec_versions (
  id          INTEGER PRIMARY KEY,
  kind        TEXT NOT NULL,            -- service | source
  name        TEXT NOT NULL,
  version     TEXT NOT NULL,            -- the spec's own semantic version
  sha256      TEXT NOT NULL,
  file        TEXT,
  body        TEXT NOT NULL,            -- the YAML as applied
  applied_at  INTEGER NOT NULL,
  retired     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX spec_versions_name ON spec_versions(kind, name, id);

CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES ('config_rev', 0);

CREATE TABLE sources (sid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);

CREATE TABLE source_tokens (
  id          INTEGER PRIMARY KEY,
  source      TEXT NOT NULL,
  sha256      TEXT NOT NULL UNIQUE,     -- only the hash is kept
  label       TEXT,
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);

CREATE TABLE devices (
  source      TEXT NOT NULL,
  local_id    TEXT NOT NULL,
  entity_id   TEXT,
  lon         REAL,
  lat         REAL,
  expected    INTEGER NOT NULL DEFAULT 1,
  name        TEXT,
  attrs       TEXT NOT NULL DEFAULT '{}',
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (source, local_id)
) WITHOUT ROWID;

-- what arrived, exactly; never updated
CREATE TABLE raw_messages (
  id            INTEGER PRIMARY KEY,    -- time-ordered, made by the adapter
  sid           INTEGER NOT NULL REFERENCES sources(sid),
  received_at   INTEGER NOT NULL,
  transport     TEXT NOT NULL,
  meta          TEXT,
  body          BLOB NOT NULL
);

-- what became of it, written when the normalizer is done with it (no row yet = pending);
-- a narrow table of its own, so recording an outcome does not rewrite the bodies
CREATE TABLE raw_status (
  id            INTEGER PRIMARY KEY,    -- = raw_messages.id
  status        INTEGER NOT NULL,       -- 1 stored 2 stored_flagged 3 duplicate 4 quarantined
  dedupe_ts     INTEGER,                -- duplicate key, part 1: observedAt of the first record (0 if none)
  dedupe_key    INTEGER,                -- duplicate key, part 2: 64-bit hash of the key fields or the bytes
  spec_version  INTEGER,
  processed_at  INTEGER
);
-- time first, so that the index grows at its end like the data (not at random places)
CREATE INDEX raw_dedupe ON raw_status(dedupe_ts, dedupe_key) WHERE dedupe_key IS NOT NULL;

CREATE TABLE quarantine (
  raw_id       INTEGER PRIMARY KEY REFERENCES raw_messages(id),
  sid          INTEGER NOT NULL,
  reason       TEXT NOT NULL,           -- the first problem's slug
  field        TEXT,
  detail       TEXT,
  problems     TEXT NOT NULL,           -- JSON list of every problem
  created_at   INTEGER NOT NULL,
  resolved_at  INTEGER
);
CREATE INDEX quarantine_open ON quarantine(sid, raw_id) WHERE resolved_at IS NULL;

CREATE TABLE ledger (
  sid      INTEGER NOT NULL,
  outcome  TEXT NOT NULL,               -- pending | stored | stored_flagged | duplicate | quarantined
  n        INTEGER NOT NULL,
  PRIMARY KEY (sid, outcome)
) WITHOUT ROWID;

CREATE TABLE transport_refusals (
  source   TEXT NOT NULL,
  reason   TEXT NOT NULL,
  n        INTEGER NOT NULL,
  last_at  INTEGER NOT NULL,
  PRIMARY KEY (source, reason)
) WITHOUT ROWID;
