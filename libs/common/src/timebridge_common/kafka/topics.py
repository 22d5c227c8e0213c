"""The topic catalogue and its creation (the broker does not auto-create topics)."""

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from timebridge_common.config import KafkaConfig
from timebridge_common.events.catalog import ALL_EVENTS, ClientChanged
from timebridge_common.events.connections import ConnectionChanged, ConnectionChangedV1
from timebridge_common.kafka.dlt import dlt_topic

COMPACTED = frozenset(
    {ConnectionChanged.topic(), ConnectionChangedV1.topic(), ClientChanged.topic()}
)
"""State topics: Kafka keeps the latest record per key, so the topic is a replayable snapshot."""


def all_topics() -> list[str]:
    """Every event topic and its dead-letter topic."""
    topics = [model.topic() for model in ALL_EVENTS]
    return [t for topic in topics for t in (topic, dlt_topic(topic))]


async def ensure_topics(config: KafkaConfig, topics: list[str] | None = None) -> list[str]:
    """Create missing topics; return the ones created. Safe to run concurrently and repeatedly."""
    wanted = topics if topics is not None else all_topics()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=config.bootstrap_servers, request_timeout_ms=config.request_timeout_ms
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        created: list[str] = []
        for topic in missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            topic,
                            num_partitions=config.partitions,
                            replication_factor=config.replication_factor,
                            topic_configs={"cleanup.policy": "compact"}
                            if topic in COMPACTED
                            else {},
                        )
                    ]
                )
                created.append(topic)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        await admin.close()


async def partitions_of(bootstrap_servers: str, topics: list[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` (a consumer's metadata cache may not hold them yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return sorted(
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if t["error_code"] == 0
        for p in t["partitions"]
    )
