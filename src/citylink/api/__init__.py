"""HTTP surfaces: ingest, NGSI-LD, health."""
