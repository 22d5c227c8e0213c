"""Kafka plumbing: producer/consumer defaults, dead-letter topics, replay, topic creation."""
