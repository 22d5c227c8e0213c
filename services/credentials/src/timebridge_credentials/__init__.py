"""Timebridge credentials: the one owner of every provider credential."""
