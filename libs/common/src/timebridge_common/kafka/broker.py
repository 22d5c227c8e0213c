"""Broker factory with the producer defaults every service uses."""

from faststream.kafka import KafkaBroker

from timebridge_common.config import KafkaConfig


def make_broker(config: KafkaConfig, *, client_id: str) -> KafkaBroker:
    """A broker whose producer waits for all in-sync replicas and is idempotent.

    ``acks="all"`` is what makes "answered 2xx" mean "durably in Kafka"; idempotence keeps the
    producer's own retries from writing a record twice or out of order within a partition.
    """
    return KafkaBroker(
        config.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=config.request_timeout_ms,
        logger=None,
    )
