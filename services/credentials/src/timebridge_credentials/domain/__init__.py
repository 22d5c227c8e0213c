"""Domain of the credentials service."""
