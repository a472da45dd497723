-- The context side, shaped for NGSI-LD: entities, one row per attribute instance
-- (observations), and the current state of every attribute (entity_attrs).
CREATE TABLE attributes (
  aid    INTEGER PRIMARY KEY,
  iri    TEXT NOT NULL UNIQUE,          -- expanded attribute name
  name   TEXT NOT NULL,                 -- term in CityLink's @context
  kind   TEXT NOT NULL,                 -- Property | GeoProperty | Relationship | LanguageProperty
  vtype  TEXT NOT NULL,                 -- Number | Integer | Text | Boolean | DateTime | Object | ...
  unit   TEXT
);

CREATE TABLE entities (
  eid          INTEGER PRIMARY KEY,
  id           TEXT NOT NULL UNIQUE,    -- urn:ngsi-ld:<Type>:<deployment>:<local-id>
  type         TEXT NOT NULL,
  service      TEXT NOT NULL,           -- a type is not a service: ParkingSpot serves two departments
  department   TEXT NOT NULL,
  source       TEXT NOT NULL,
  lon          REAL,
  lat          REAL,
  created_at   INTEGER NOT NULL,
  modified_at  INTEGER NOT NULL
);
CREATE INDEX entities_type ON entities(type, eid);
CREATE INDEX entities_service ON entities(service, eid);
CREATE INDEX entities_lonlat ON entities(lon, lat) WHERE lon IS NOT NULL;

CREATE TABLE observations (
  eid           INTEGER NOT NULL,
  aid           INTEGER NOT NULL,
  dataset_id    TEXT NOT NULL DEFAULT '',
  observed_at   INTEGER NOT NULL,
  raw_id        INTEGER NOT NULL,
  value_num     REAL,
  value_json    TEXT,                   -- non-numeric values as JSON
  unit          TEXT,                   -- UN/CEFACT code
  flags         INTEGER NOT NULL DEFAULT 0,
  spec_version  INTEGER,
  sub           TEXT,                   -- further sub-properties, JSON
  -- clustered by raw message: writes append at the end, and a replay finds what a message
  -- produced by its id (the idempotency key raw id + entity + attribute + datasetId)
  PRIMARY KEY (raw_id, eid, aid, dataset_id, observed_at)
) WITHOUT ROWID;
-- one series per entity (not per attribute): a message's values of one entity sit side by side,
-- so a batch dirties a third as many index pages; temporal queries filter the attribute
CREATE INDEX observations_series ON observations(eid, observed_at);

CREATE TABLE entity_attrs (
  eid           INTEGER NOT NULL,
  aid           INTEGER NOT NULL,
  dataset_id    TEXT NOT NULL DEFAULT '',
  observed_at   INTEGER NOT NULL,
  raw_id        INTEGER,
  value_num     REAL,
  value_json    TEXT,
  unit          TEXT,
  flags         INTEGER NOT NULL DEFAULT 0,
  spec_version  INTEGER,
  modified_at   INTEGER NOT NULL,
  PRIMARY KEY (eid, aid, dataset_id)
) WITHOUT ROWID;
CREATE INDEX entity_attrs_value ON entity_attrs(aid, value_num);
