"""The Everhour sandbox for :mod:`bench.e2e_twoway`: each request counted by the process that
sent it, so an echo's cost is ingest's own requests, apart from the resolver's and mapping's.

Run: ``python bench/e2e_everhour.py --port P --api-key KEY --tasks 10``. The same app and world
as ``bench/everhour_served.py`` (limit lifted, uvloop + httptools, no access log; its
``/_bench/world`` and by-method ``/_bench/requests``), with its webhooks delivered (a two-way
integration registers one; each write of ours then comes back to ingest as Everhour sends it).
Every process calls with the same key and no distinguishing header, so the sender is found from
the connection: the client's port -> its socket inode (``/proc/net/tcp``) -> the pid holding it
(``/proc/<pid>/fd``), once per connection. ``POST /_bench/pids`` names the pids to look for (the
services start after the sandbox); ``GET /_bench/by-process`` answers the counts by process,
method and path (``/tasks/{id}/time``...), a connection of no named pid as ``other``.
"""

import argparse
import json
import os
import re
import sys
from collections import Counter
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: bench.*
from bench.everhour_served import Counted, _json
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit

Scope = MutableMapping[str, Any]
IDS = re.compile(r"/(\d+|[a-z]{2}:\d+)(?=/|$)")
"""A path's ids (``/tasks/ev:123/time`` -> ``/tasks/{id}/time``): counted by route."""


def socket_owner(client_port: int, server_port: int, pids: dict[str, int]) -> str | None:
    """The named process holding the client side of the connection ``client_port`` ->
    ``server_port`` on this machine, or ``None`` (not found, or no such pid named)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (
                int(local.rsplit(":", 1)[1], 16) == client_port
                and int(remote.rsplit(":", 1)[1], 16) == server_port
            ):
                inode = fields[9]
                break
        if inode is not None:
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for name, pid in pids.items():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return name
            except OSError:
                continue
    return None


class ByProcess:
    """Counts each request by its sender's process; answers ``/_bench/pids|by-process``."""

    def __init__(self, app: Any, port: int) -> None:
        self.app, self.port = app, port
        self.pids: dict[str, int] = {}
        self.owners: dict[int, str] = {}
        self.requests: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == "/_bench/pids":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            self.pids = {k: int(v) for k, v in json.loads(body).items()}
            self.owners.clear()
            await _json(send, self.pids)
            return
        if path == "/_bench/by-process":
            await _json(send, dict(self.requests))
            return
        if not path.startswith("/_"):
            client = scope.get("client") or ("", 0)
            owner = self.owners.get(client[1])
            if owner is None:
                owner = socket_owner(client[1], self.port, self.pids) if self.pids else None
                if owner is not None:
                    self.owners[client[1]] = owner
            self.requests[f"{owner or 'other'} {scope['method']} {IDS.sub('/{id}', path)}"] += 1
        await self.app(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--tasks", type=int, default=10)
    args = parser.parse_args()
    state = EverhourState()
    ann = state.add_user("Ann", api_key=args.api_key, email="ann@acme.test")
    project = state.add_project("Website")
    tasks = [state.add_task(project, f"Bench {n}") for n in range(args.tasks)]
    app = create_everhour_sandbox(state, Faults(), rate_limit=RateLimit(1_000_000, 10.0))
    world = {"user": ann, "project": project, "tasks": tasks}
    uvicorn.run(
        ByProcess(Counted(app, world), args.port),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
