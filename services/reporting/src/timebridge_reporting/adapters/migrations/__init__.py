"""SQL migrations of the reporting database, applied in file-name order."""
