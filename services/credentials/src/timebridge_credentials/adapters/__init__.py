"""Adapters of the credentials service."""
