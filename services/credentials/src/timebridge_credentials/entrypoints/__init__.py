"""Entrypoints of the credentials service."""
