"""Entrypoints of the contracts service."""
