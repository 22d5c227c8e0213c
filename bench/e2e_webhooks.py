"""Signed Core webhooks for :mod:`bench.e2e_sync`, sent over raw keep-alive HTTP/1.1 sockets.

Each request is built and signed before the clock starts (bytes ready to write: the sender
spends no CPU on HTTP libraries or JSON, only a write and a read per request). ``wrk`` (what
:mod:`bench.accept` uses) cannot pace requests nor say which request an answer was for, and both
are needed here: the time each entry's webhook was sent and accepted, and a retry of every
``503``/``429`` (ingest's "not durable, send it again"), so that every entry the bench counts
as missing is one the pipeline lost, not one the load generator gave up on.

Each webhook is a distinct delivery of a new Core entry of Ann's on ticket ``n % tickets``, on a
day ``n // tickets`` days back: its own Everhour record (task, user, day), so each costs the
resolver a look-up, a write and a read-back (as in :mod:`bench.sync_drain`).
"""

import asyncio
import datetime as dt
import json
import time
from dataclasses import dataclass, field

from timebridge_providers.core.webhooks import sign

DAY = dt.date(2026, 11, 21)
RETRY = frozenset({429, 500, 502, 503, 504})
"""Answers that mean "nothing durable, send it again" (ingest's 503 + Retry-After)."""


@dataclass(frozen=True)
class World:
    """What the webhooks refer to: the workspace, Ann's Core id, the project, the tickets."""

    workspace: str
    user: str
    email: str
    project: str
    tickets: list[str]


def entry_id(run: str, n: int) -> str:
    return f"te-{run}-{n}"


def body(world: World, run: str, n: int, now: dt.datetime) -> bytes:
    """The ``time_entry.created`` webhook of entry ``n``."""
    date = DAY - dt.timedelta(days=n // len(world.tickets))
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = {
        "id": f"dlv-{run}-{n}",
        "type": "time_entry.created",
        "workspace_id": world.workspace,
        "occurred_at": stamp,
        "data": {
            "time_entry": {
                "id": entry_id(run, n),
                "user": {"id": world.user, "email": world.email},
                "project_id": world.project,
                "ticket_id": world.tickets[n % len(world.tickets)],
                "date": date.isoformat(),
                "started_at": f"{date.isoformat()}T08:00:00Z",
                "duration_seconds": 600 + n,
                "notes": f"bench entry {n}",
                "billable": True,
                "timezone": "Europe/Berlin",
                "updated_at": stamp,
                "version": 1,
            }
        },
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def requests(world: World, secret: str, run: str, numbers: range, host: str) -> list[bytes]:
    """The raw requests of entries ``numbers``, signed now (valid for Core's 5-minute
    tolerance: a measurement must start sending within it)."""
    now = dt.datetime.now(dt.UTC)
    signed_at = int(time.time())
    path = f"/v1/webhooks/core/{world.workspace}"
    out = []
    for n in numbers:
        raw = body(world, run, n, now)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Core-Signature: {sign(secret, signed_at, raw)}\r\n"
            f"Content-Length: {len(raw)}\r\n\r\n"
        )
        out.append(head.encode() + raw)
    return out


class Connection:
    """One keep-alive connection: a request written, its answer's status read."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


@dataclass
class Sent:
    """Per entry number: when its webhook was first sent and when it was accepted (epoch ms),
    the refusals (status and body, not retried) and the retries."""

    sent_ms: dict[int, float] = field(default_factory=dict)
    accepted_ms: dict[int, float] = field(default_factory=dict)
    refused: dict[int, tuple[int, str]] = field(default_factory=dict)
    retries: int = 0
    late_ms: list[float] = field(default_factory=list)
    """Paced: how late each request was sent against its schedule (no connection free)."""
    connections: int = 0
    seconds: float = 0.0


class Sender:
    """Sends the requests to ingest at ``host:port`` on up to ``connections`` connections."""

    def __init__(self, host: str, port: int, connections: int) -> None:
        self.host, self.port, self.max_connections = host, port, connections
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()
        self.opened: list[Connection] = []
        self.sent = Sent()

    async def _connection(self) -> Connection:
        if self.idle.empty() and len(self.opened) < self.max_connections:
            conn = await Connection.open(self.host, self.port)
            self.opened.append(conn)
            return conn
        return await self.idle.get()

    async def _one(self, n: int, request: bytes, conn: Connection) -> None:
        """Send entry ``n`` until it is accepted or refused (retrying 503/429/5xx)."""
        self.sent.sent_ms.setdefault(n, time.time() * 1000)
        while True:
            try:
                status, answer = await conn.send(request)
            except (ConnectionError, asyncio.IncompleteReadError):
                conn.close()
                self.opened.remove(conn)
                conn = await Connection.open(self.host, self.port)
                self.opened.append(conn)
                self.sent.retries += 1
                continue
            if status in RETRY:
                self.sent.retries += 1
                await asyncio.sleep(0.05)
                continue
            if 200 <= status < 300:
                self.sent.accepted_ms[n] = time.time() * 1000
            else:
                self.sent.refused[n] = (status, answer.decode(errors="replace")[:200])
            break
        self.idle.put_nowait(conn)

    async def drain(self, batch: list[tuple[int, bytes]]) -> Sent:
        """Every request as fast as ingest accepts them, ``max_connections`` at a time."""
        began = time.monotonic()
        queue = list(reversed(batch))

        async def worker() -> None:
            conn = await self._connection()
            while queue:
                n, request = queue.pop()
                await self._one(n, request, conn)
                conn = await self.idle.get()
            self.idle.put_nowait(conn)

        await asyncio.gather(*(worker() for _ in range(min(self.max_connections, len(batch)))))
        self.sent.seconds = time.monotonic() - began
        self.sent.connections = len(self.opened)
        return self.sent

    async def paced(self, batch: list[tuple[int, bytes]], rate: float) -> Sent:
        """Request ``i`` sent at ``i / rate`` seconds (later if no connection is free and
        ``max_connections`` are open: the lateness is kept)."""
        began = time.monotonic()
        tasks = []
        for i, (n, request) in enumerate(batch):
            due = began + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            conn = await self._connection()
            self.sent.late_ms.append(max(0.0, (time.monotonic() - due) * 1000))
            tasks.append(asyncio.create_task(self._one(n, request, conn)))
        await asyncio.gather(*tasks)
        self.sent.seconds = time.monotonic() - began
        self.sent.connections = len(self.opened)
        return self.sent

    def close(self) -> None:
        for conn in self.opened:
            conn.close()
