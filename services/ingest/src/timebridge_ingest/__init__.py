"""Ingest: turns what upstream systems tell us (webhooks, polls) into ``TimeEntryLogged`` events."""
