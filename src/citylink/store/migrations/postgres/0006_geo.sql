-- Geo-queries run in PostGIS (Debian: postgresql-15-postgis-3).  Creating the extension needs a
-- superuser once per database; a database where a DBA created it already passes through.
CREATE EXTENSION IF NOT EXISTS postgis;
