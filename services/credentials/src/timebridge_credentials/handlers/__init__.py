"""Handlers of the credentials service."""
