"""Conflict-resolver: matches the same work logged on both sides and applies the conflict policy."""
