"""SQL migrations of the mapping database, applied in file-name order."""
