"""Timebridge console: web pages for integration admins, over the services' public APIs."""
