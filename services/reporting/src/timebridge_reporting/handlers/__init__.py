"""Use cases: orchestrate domain decisions with the ports (repositories, publisher)."""
