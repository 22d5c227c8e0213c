"""Postgres rows of invoice-export, one module per aggregate (``Tx`` combines them)."""
