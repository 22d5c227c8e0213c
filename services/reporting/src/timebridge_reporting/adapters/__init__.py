"""I/O: Postgres repositories and provider clients."""
