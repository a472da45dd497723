-- Open data (issue 5): tables the district uploads that are not sensor feeds (event statistics, facility
-- lists), published in the catalogue beside the services' data.  Same tables and columns as
-- migrations/sqlite/0009_open_data.sql; times in µs since the epoch (the SQL is shared, store/base.py).
CREATE TABLE open_tables (
  id           text PRIMARY KEY,
  version      integer NOT NULL,
  meta         text NOT NULL,
  columns      text NOT NULL,
  row_count    bigint NOT NULL,
  uploaded_at  bigint NOT NULL,
  uploaded_by  text
);

CREATE TABLE open_table_rows (
  table_id  text NOT NULL,
  row_no    bigint NOT NULL,
  cells     text NOT NULL,
  PRIMARY KEY (table_id, row_no)
);

-- A download reads a service's history a day at a time, in time order (store/base.py: history_chunks).
-- Rows are written roughly in time order, so a block-range index on observed_at finds a day's blocks in
-- each month's partition for a few kilobytes (a B-tree on it would cost an entry per observation).  A block
-- range is summarised when it fills (autosummarize), not at the next vacuum: until then it would be read
-- for every day (measured: a day of one month read 1,473 blocks unsummarised, 193 summarised).
CREATE INDEX IF NOT EXISTS observations_time_brin ON observations USING brin (observed_at)
  WITH (autosummarize = on);
