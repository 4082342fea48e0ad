"""Ingest: sources in, recipes applied, clean versioned Parquet out (see docs/architecture.md)."""
