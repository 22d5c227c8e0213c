"""Handlers of the contracts service."""
