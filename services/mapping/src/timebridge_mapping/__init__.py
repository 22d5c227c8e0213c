"""Mapping: resolves who, which project and which task an entry belongs to on the other side."""
