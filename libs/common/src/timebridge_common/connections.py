"""A service's local copy of the connections ingest owns.

Ingest publishes the full state of a connection on every change (``ConnectionChanged``, a
compacted topic). A service that calls providers keeps the newest revision of each connection in
its own database; an older revision arriving late (a replay) never overwrites a newer one.
No secret is in the copy: the credentials service owns every connection's credential and
services ask it before each provider call. Ingest publishes ``ConnectionChanged`` v2; the copy
also reads the deprecated v1 topic (old records of the compacted topic), upcasting each record to
v2 (its sealed ``credentials_encrypted`` is dropped). Revisions count across both versions, so
whichever topic is read first, the highest revision wins.

An event naming a connection the copy lacks is transient while this service's consumer of the
topic is behind (the connection is on its way), and invalid once it has read the topic to its
end (it will never come; waiting would block the event's partition for good): ``missing``.
"""

from collections.abc import Awaitable, Callable
from typing import Literal

import asyncpg

from timebridge_common.db.inbox import once
from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import ConnectionChanged, ConnectionChangedV1, Envelope
from timebridge_common.events.connections import upcast_v1
from timebridge_common.kafka.lag import group_has_read_to_end
from timebridge_common.runtime import ServiceRuntime

MIGRATIONS = "timebridge_common.connections_sql"

Applied = Literal["applied", "stale", "duplicate"]
Handler = Callable[[Envelope, ConnectionChanged], Awaitable[None]]

CONNECTION_TOPICS = (ConnectionChanged.topic(), ConnectionChangedV1.topic())
"""Where connection states are: v2, and the deprecated v1 (still read for its old records)."""


class ConnectionCopies:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        bootstrap_servers: str | None = None,
    ) -> None:
        self._pool = pool
        self._bootstrap_servers = bootstrap_servers
        self._group_id: str | None = None

    def subscribe(self, runtime: ServiceRuntime) -> None:
        async def handle(envelope: Envelope, event: ConnectionChanged) -> None:
            await self.apply(f"{runtime.name}.connection-changed", envelope, event)

        self.subscribe_with(runtime, handle)

    def subscribe_with(self, runtime: ServiceRuntime, handle: Handler) -> None:
        """Subscribe ``handle`` (which applies the event here) to the v2 and the v1 topic."""

        async def handle_v1(envelope: Envelope, event: ConnectionChangedV1) -> None:
            await handle(envelope, upcast_v1(event))

        self._group_id = runtime.subscribe(ConnectionChanged, handle).group_id
        runtime.subscribe(ConnectionChangedV1, handle_v1)

    async def missing(self, what: str) -> TransientError | InvalidMessageError:
        """The error to raise for an event naming ``what``, a connection this copy lacks.

        Without a broker to ask (no ``bootstrap_servers``, not subscribed, broker unreachable)
        it is transient: waiting is safe, dead-lettering a valid event is not.
        """
        if self._bootstrap_servers is None or self._group_id is None:
            return TransientError(f"{what} is not known here yet")
        try:
            read = all(
                [
                    await group_has_read_to_end(self._bootstrap_servers, self._group_id, topic)
                    for topic in CONNECTION_TOPICS
                ]
            )
        except Exception as exc:
            return TransientError(f"{what} is not known here yet (could not ask Kafka: {exc!r})")
        if read:
            return InvalidMessageError(
                f"{what} is unknown: the connections topic was read to its end without it"
            )
        return TransientError(f"{what} is not known here yet")

    async def apply(self, consumer: str, envelope: Envelope, event: ConnectionChanged) -> Applied:
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return "duplicate"
            updated = await conn.fetchval(
                "INSERT INTO connections (connection_id, workspace_id, provider, status, revision,"
                " state) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (connection_id) DO UPDATE SET"
                " status = EXCLUDED.status, revision = EXCLUDED.revision, state = EXCLUDED.state,"
                " received_at = now() WHERE connections.revision < EXCLUDED.revision"
                " RETURNING true",
                event.connection_id,
                event.workspace_id,
                event.provider,
                event.status,
                event.revision,
                event.model_dump(mode="json"),
            )
            return "applied" if updated else "stale"

    async def get(self, connection_id: str) -> ConnectionChanged | None:
        state = await self._pool.fetchval(
            "SELECT state FROM connections WHERE connection_id = $1", connection_id
        )
        return None if state is None else ConnectionChanged.model_validate(state)

    async def connected(
        self, workspace_id: str, provider: str | None = None
    ) -> list[ConnectionChanged]:
        rows = await self._pool.fetch(
            "SELECT state FROM connections WHERE workspace_id = $1 AND status = 'connected'"
            " AND ($2::text IS NULL OR provider = $2) ORDER BY connection_id",
            workspace_id,
            provider,
        )
        return [ConnectionChanged.model_validate(r["state"]) for r in rows]


def credential_context(connection_id: str) -> str:
    """Associated data binding an encrypted credential to its connection."""
    return f"connection:{connection_id}"
