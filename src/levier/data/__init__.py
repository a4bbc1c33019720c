"""Data layer: canonical model, ingest, validation, cleaning, demo data."""
