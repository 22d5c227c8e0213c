"""SQL migrations of the contracts database, applied in file-name order."""
