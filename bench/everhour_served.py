"""The Everhour sandbox served as its own process for :mod:`bench.sync_drain`, limit lifted.

Run: ``python bench/everhour_served.py --port 19590 --api-key KEY --tasks 50``. It serves the
sandbox of ``timebridge-sandbox everhour`` (same app, same routes and shapes) with its per-key
limit lifted (``--requests-per-10s``, default a million), one admin user holding ``--api-key``,
one project with ``--tasks`` tasks, uvloop + httptools and no access log (a line per request
would be the bench measuring its own logging). ``GET /_bench/world`` answers the ids the bench
needs and ``GET /_bench/requests`` the requests served so far by method (counted in front of the
app, outside the sandbox's own routes).
"""

import argparse
import json
from collections import Counter
from collections.abc import MutableMapping
from typing import Any

import uvicorn

from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit

Scope = MutableMapping[str, Any]


class Counted:
    """Counts the requests by method; answers ``/_bench/*`` itself."""

    def __init__(self, app: Any, world: dict[str, Any]) -> None:
        self.app, self.world, self.requests = app, world, Counter[str]()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith("/_bench/"):
                body = self.world if path == "/_bench/world" else dict(self.requests)
                await _json(send, body)
                return
            self.requests[scope["method"]] += 1
        await self.app(scope, receive, send)


async def _json(send: Any, body: Any) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--requests-per-10s", type=int, default=1_000_000)
    args = parser.parse_args()
    state = EverhourState()
    ann = state.add_user("Ann", api_key=args.api_key, email="ann@acme.test")
    project = state.add_project("Website")
    tasks = [state.add_task(project, f"Bench {n}") for n in range(args.tasks)]
    app = create_everhour_sandbox(
        state, Faults(), rate_limit=RateLimit(args.requests_per_10s, 10.0)
    )
    world = {"user": ann, "project": project, "tasks": tasks}
    uvicorn.run(
        Counted(app, world),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
