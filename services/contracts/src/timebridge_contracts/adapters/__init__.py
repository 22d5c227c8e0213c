"""Adapters of the contracts service."""
