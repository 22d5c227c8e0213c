"""A service's connection copies read ConnectionChanged v2 and the deprecated v1 topic.

Real Kafka and Postgres: a v1 record (old, on the v1 topic) is upcast and stored without its
sealed credential; one read after a newer v2 revision of the same connection never sets the copy
back, whichever topic is consumed first; "missing" needs both topics read to their end.
"""

import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg

from timebridge_common.config import ServiceSettings
from timebridge_common.connections import CONNECTION_TOPICS, MIGRATIONS, ConnectionCopies
from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import ConnectionChanged, Envelope, Event
from timebridge_common.events.codec import encode
from timebridge_common.kafka.lag import group_has_read_to_end
from timebridge_common.runtime import ServiceRuntime, build_runtime
from timebridge_common.testing import (
    in_memory_tracing,
    position_group_at_end,
    sample_connection_changed,
    sample_connection_changed_v1,
    wait_for,
)

from .conftest import KAFKA, kafka_config, unique

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


async def publish(runtime: ServiceRuntime, event: Event) -> None:
    encoded = encode(event, Envelope.for_event(event, producer="test", occurred_at=T0))
    await runtime.broker.publish(
        encoded.value, encoded.topic, key=encoded.key, headers=encoded.headers
    )


async def test_the_copy_reads_both_versions_and_keeps_the_highest_revision(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    kafka = kafka_config().model_copy(update={"group_prefix": unique("it-copies")})
    await position_group_at_end(KAFKA, f"{kafka.group_prefix}-copies", list(CONNECTION_TOPICS))
    pool = await make_pool(await create_database(unique("copies")))
    runtime = build_runtime(
        "copies",
        ServiceSettings(kafka=kafka),
        migrations=(MIGRATIONS,),
        pool=pool,
        tracer_provider=in_memory_tracing("copies")[0],
    )
    copies = ConnectionCopies(pool, bootstrap_servers=KAFKA)
    copies.subscribe(runtime)
    await runtime.start()
    try:
        workspace, newer, old_only = unique("ws"), unique("int_new"), unique("int_old")
        v2 = sample_connection_changed(
            workspace_id=workspace, connection_id=newer, revision=2, account={"name": "v2"}
        )
        await publish(runtime, v2)
        await wait_for(lambda: copies.get(newer), timeout_s=30)
        stale = sample_connection_changed_v1(
            workspace_id=workspace, connection_id=newer, revision=1, account={"name": "v1"}
        )
        only_v1 = sample_connection_changed_v1(
            workspace_id=workspace, connection_id=old_only, status="disconnected"
        )
        await publish(runtime, stale)
        await publish(runtime, only_v1)
        await wait_for(lambda: copies.get(old_only), timeout_s=30)
        group = f"{kafka.group_prefix}-copies"

        async def read_both() -> bool:
            return all([await group_has_read_to_end(KAFKA, group, t) for t in CONNECTION_TOPICS])

        await wait_for(read_both, timeout_s=30)
        assert await copies.get(newer) == v2, "an older v1 revision read later must not win"
        upcast = await copies.get(old_only)
        assert isinstance(upcast, ConnectionChanged)
        assert (upcast.status, upcast.revision) == ("disconnected", 1)
        states = await pool.fetch("SELECT state::text AS s FROM connections")
        assert states
        assert all("credentials_encrypted" not in r["s"] for r in states)
        assert isinstance(await copies.missing("int_nowhere"), InvalidMessageError)
    finally:
        await runtime.stop()
