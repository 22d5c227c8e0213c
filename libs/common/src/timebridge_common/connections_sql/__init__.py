"""Migrations of the local connection copy, for services that keep one (connections.py)."""
