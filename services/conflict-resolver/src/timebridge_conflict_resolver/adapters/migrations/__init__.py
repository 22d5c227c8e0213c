"""SQL migrations of the conflict-resolver database, applied in file-name order."""
