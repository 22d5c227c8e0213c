"""Domain of the contracts service."""
