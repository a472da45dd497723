-- Open data (issue 5): tables the district uploads that are not sensor feeds (event statistics, facility
-- lists), published in the catalogue beside the services' data.  Uploading a table of the same id replaces
-- it whole, in one transaction, and counts its version up.  Times in µs since the epoch on both engines:
-- the SQL is shared (store/base.py).
CREATE TABLE open_tables (
  id           TEXT PRIMARY KEY,          -- the dataset's id in the catalogue
  version      INTEGER NOT NULL,          -- 1 for the first upload, +1 for each replacement
  meta         TEXT NOT NULL,             -- the metadata document (table/1) as uploaded
  columns      TEXT NOT NULL,             -- JSON list of the CSV's column names, in order
  row_count    INTEGER NOT NULL,
  uploaded_at  INTEGER NOT NULL,
  uploaded_by  TEXT
);

CREATE TABLE open_table_rows (
  table_id  TEXT NOT NULL,
  row_no    INTEGER NOT NULL,
  cells     TEXT NOT NULL,               -- JSON list, in the order of columns; personal cells pseudonymised
  PRIMARY KEY (table_id, row_no)
) WITHOUT ROWID;
