"""Operations over HTTP for a workspace's Core admins: its dead letters, replay, consumer lag.

Mounted by one service (reporting), so the console reaches operations through a public API
like everything else; it only needs the broker, which every service has.

Dead-letter topics are shared by all tenants: every letter is filtered by its
``ce_workspaceid`` header (the envelope's workspace, kept by the dead-letter publisher), so an
admin sees and replays only their workspace's letters; a letter without that header (bytes
that were never an event) belongs to no workspace and is left to the platform's CLI
(``timebridge-dlt``). A letter is named by its position in the dead-letter topic
(``<partition>:<offset>``), so replaying one replays exactly that record, to the consumer group
that dead-lettered it (:mod:`timebridge_common.kafka.replay`).

Consumer lag is per service (its consumer group), summed over the partitions it committed: a
platform figure without any tenant's data, shown to every workspace's admins so they can tell
"not synced yet" from "stuck".

Reading a dead-letter topic scans it from its start (they are small: a letter is an exception);
a platform with large ones would index them instead.
"""

from typing import Annotated, Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import APIRouter, Body, Depends, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.kafka.dlt import (
    EXCEPTION_FQCN,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_TIMESTAMP,
    REPLAYED_FROM,
    SourceRecord,
)
from timebridge_common.kafka.replay import DeadLetter, send
from timebridge_common.kafka.topics import all_topics, partitions_of

WORKSPACE_HEADER = "ce_workspaceid"
SERVICES = ("ingest", "mapping", "conflict-resolver", "invoice-export", "reporting", "contracts")
"""The services whose consumer groups the lag covers (a group without commits shows none)."""
TopicPath = Annotated[str, Path(pattern=r"^[a-z0-9][A-Za-z0-9.-]{0,200}$")]
Position = Annotated[str, Field(pattern=r"^[0-9]{1,6}:[0-9]{1,19}$")]


class ReplayBody(BaseModel):
    """Replay the letters named, or all of the workspace's letters of the topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    letters: tuple[Position, ...] = Field(default=(), max_length=1000)
    all: bool = Field(default=False, description="Every letter of the workspace in the topic")
    include_invalid: bool = Field(
        default=False,
        description="Also letters classed invalid (they fail again unless the code or data"
        " behind them changed)",
    )


def _position(letter: DeadLetter) -> str:
    return f"{letter.record.partition}:{letter.record.offset}"


def letter_json(letter: DeadLetter) -> dict[str, Any]:
    """A letter with the headers that say why it failed (not its payload's fields)."""
    headers = letter.record.headers
    return {
        "position": _position(letter),
        "event_id": letter.event_id,
        "event_type": headers.get("ce_type", ""),
        "consumer_group": letter.group,
        "original_topic": letter.original_topic,
        "original_position": f"{headers.get(ORIGINAL_PARTITION, '')}:"
        f"{headers.get(ORIGINAL_OFFSET, '')}",
        "original_timestamp_ms": headers.get(ORIGINAL_TIMESTAMP),
        "reason": letter.reason,
        "exception": headers.get(EXCEPTION_FQCN, ""),
        "error_class": letter.error_class,
        "attempts": letter.attempts,
        "replayed_from": headers.get(REPLAYED_FROM),
        "dead_lettered_at_ms": letter.record.timestamp,
    }


def ops_router(
    admins: WorkspaceAdmins,
    bootstrap_servers: str,
    *,
    group_prefix: str,
    services: tuple[str, ...] = SERVICES,
) -> APIRouter:
    """``services``: whose consumer groups (``<group_prefix>-<service>``) the lag covers."""
    router = APIRouter(tags=["operations"], dependencies=[Depends(admins.require)])
    base = "/v1/workspaces/{workspace_id}/ops"
    dead_letter_topics = [t for t in all_topics() if t.endswith(".DLT")]

    async def letters_of(workspace_id: str, topic: str) -> list[DeadLetter]:
        if topic not in dead_letter_topics:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such dead-letter topic")
        return (await scan(bootstrap_servers, [topic], workspace_id))[topic]

    @router.get(base + "/dead-letters", summary="Dead-letter topics with this workspace's count")
    async def topics(workspace_id: WorkspaceIdPath) -> list[dict[str, Any]]:
        found = await scan(bootstrap_servers, dead_letter_topics, workspace_id)
        return [
            {"topic": topic, "original_topic": topic[: -len(".DLT")], "count": len(letters)}
            for topic, letters in found.items()
        ]

    @router.get(
        base + "/dead-letters/{topic}",
        summary="This workspace's dead letters of a topic, oldest first, with their reasons",
        responses={404: {"description": "Not a dead-letter topic"}},
    )
    async def letters(workspace_id: WorkspaceIdPath, topic: TopicPath) -> list[dict[str, Any]]:
        return [letter_json(letter) for letter in await letters_of(workspace_id, topic)]

    @router.post(
        base + "/dead-letters/{topic}/replay",
        summary="Replay letters (or all) to the consumer groups that dead-lettered them",
        responses={
            404: {"description": "Not a dead-letter topic, or a letter not in it"},
            422: {"description": "Neither letters nor all"},
        },
    )
    async def replay(
        workspace_id: WorkspaceIdPath, topic: TopicPath, body: Annotated[ReplayBody, Body()]
    ) -> dict[str, Any]:
        if not body.all and not body.letters:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "name letters, or all")
        found = await letters_of(workspace_id, topic)
        if not body.all:
            by_position = {_position(letter): letter for letter in found}
            missing = [p for p in body.letters if p not in by_position]
            if missing:
                raise HTTPException(
                    status.HTTP_404_NOT_FOUND, f"no letter of this workspace at {missing[0]}"
                )
            found = [by_position[p] for p in dict.fromkeys(body.letters)]
        chosen = [
            letter
            for letter in found
            if letter.group and (body.include_invalid or letter.error_class != "invalid")
        ]
        await send(bootstrap_servers, topic, chosen)
        return {
            "replayed": [_position(letter) for letter in chosen],
            "held_back": [_position(letter) for letter in found if letter not in chosen],
        }

    @router.get(base + "/consumer-lag", summary="Records each service has yet to read")
    async def lag(workspace_id: WorkspaceIdPath) -> list[dict[str, Any]]:
        del workspace_id  # authorises the caller; lag is the platform's, with no tenant data
        return await _lags(bootstrap_servers, {s: f"{group_prefix}-{s}" for s in services})

    return router


async def scan(
    bootstrap_servers: str, topics: list[str], workspace_id: str
) -> dict[str, list[DeadLetter]]:
    """The workspace's letters in each of ``topics``, from their start to the end seen now.

    One group-less consumer over every partition at once (a client per topic would cost more
    than reading the letters).
    """
    found: dict[str, list[DeadLetter]] = {topic: [] for topic in topics}
    partitions = await partitions_of(bootstrap_servers, topics)
    if not partitions:
        return found
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
        for tp in remaining:
            consumer.seek(tp, starts[tp])
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    letter = DeadLetter(SourceRecord.from_consumer_record(record))
                    if letter.record.headers.get(WORKSPACE_HEADER) == workspace_id:
                        found[tp.topic].append(letter)
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return found


async def _lags(bootstrap_servers: str, groups: dict[str, str]) -> list[dict[str, Any]]:
    """Per service (its group): the records it has yet to read, per topic and in total.

    One admin client and one group-less consumer for every group: starting them costs more
    than the questions themselves.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        committed = {
            service: await admin.list_consumer_group_offsets(group)
            for service, group in groups.items()
        }
    finally:
        await admin.close()
    partitions = {
        tp for offsets in committed.values() for tp, at in offsets.items() if at.offset >= 0
    }
    ends: dict[Any, int] = {}
    if partitions:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(list(partitions))
        finally:
            await consumer.stop()
    found = []
    for service, group in groups.items():
        per_topic: dict[str, int] = {}
        for tp, at in committed[service].items():
            if at.offset >= 0:
                per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(0, ends[tp] - at.offset)
        found.append(
            {
                "service": service,
                "consumer_group": group,
                "lag": sum(per_topic.values()),
                "topics": [{"topic": t, "lag": n} for t, n in sorted(per_topic.items())],
            }
        )
    return found
