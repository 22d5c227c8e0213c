"""How the outside world reaches this service: HTTP routes, Kafka subscribers, main."""
