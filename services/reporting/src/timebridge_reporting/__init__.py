"""Reporting: read models over the event topics (sync log, invoices) and reports on them."""
