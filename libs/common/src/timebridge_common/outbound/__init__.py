"""Clients of the providers Timebridge syncs with, over one shared HTTP layer (``http``)."""
