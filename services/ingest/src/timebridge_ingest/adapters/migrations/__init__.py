"""SQL migrations of the ingest database, applied in file-name order."""
