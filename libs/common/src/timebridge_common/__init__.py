"""Shared code for every Timebridge service: event contracts, Kafka and Postgres plumbing.

Nothing in this package reads environment variables; services pass configuration in.
"""
