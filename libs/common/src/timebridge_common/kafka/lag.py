"""Whether a consumer group has read a topic to its end.

A service asks this when an event names something its local copy of a state topic does not
hold (an integration, a workspace's Core connection). The producer of that event saw the state
record first, so it is already in the topic: while the group is behind, the copy is on its way
(transient); once the group has committed past the topic's current end, it will never come, and
waiting for it would block the partition for good (invalid).
"""

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from timebridge_common.kafka.topics import partitions_of


async def group_has_read_to_end(bootstrap_servers: str, group_id: str, topic: str) -> bool:
    """True when ``group_id`` committed, on every partition of ``topic``, its current end."""
    partitions = await partitions_of(bootstrap_servers, [topic])
    if not partitions:
        return False
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group_id, partitions=partitions)
    finally:
        await admin.close()
    for tp in partitions:
        at = committed.get(tp)
        position = at.offset if at is not None and at.offset >= 0 else 0
        if position < ends[tp]:
            return False
    return True
