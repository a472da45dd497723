-- Nothing for SQLite: its geo-queries use the (lon, lat) index of migration 2 and shapely
-- (citylink.query.geo).  The file keeps both engines' schema versions in step.
SELECT 1;
