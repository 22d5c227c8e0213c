"""The Core sandbox served as its own process for :mod:`bench.e2e_sync`.

Run: ``python bench/core_served.py --port P --workspace W --admin-token A --service-token S
--tickets 10``. It serves the sandbox of ``timebridge-sandbox core`` (same app, routes, shapes and
documented rate limit) holding one workspace: Ann, an admin with ``--admin-token`` and the email
the Everhour bench sandbox gives its Ann (users match by email), a service token, one project and
``--tickets`` tickets titled ``Bench 0``, ``Bench 1``... like the Everhour sandbox's tasks (tickets
match tasks by title). No webhook subscription: the bench posts the signed webhooks itself.
``GET /_bench/world`` answers the ids; ``GET /_bench/requests`` the requests served so far by
method and path, and the time entries Core holds (only the pipeline writes any: the bench's
entries exist only as webhooks, so a two-way run that echoes a write back into Core shows here);
no access log (a line per request would be measured too).
"""

import argparse
import json
from collections import Counter
from collections.abc import MutableMapping
from typing import Any

import uvicorn

from timebridge_sandboxes.core import CoreState, create_core_sandbox

Scope = MutableMapping[str, Any]
EMAIL = "ann@acme.test"
"""Ann's email in both bench sandboxes (``bench/everhour_served.py``)."""


class World:
    """Answers ``/_bench/*`` itself and counts the rest, which goes to the sandbox."""

    def __init__(self, app: Any, world: dict[str, Any], state: CoreState) -> None:
        self.app, self.world, self.state = app, world, state
        self.requests: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_bench/"):
            answer: Any = self.world
            if scope["path"] == "/_bench/requests":
                held = Counter(entry.workspace_id for entry in self.state.entries.values())
                answer = {"requests": dict(self.requests), "entries": dict(held)}
            raw = json.dumps(answer).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": raw})
            return
        if scope["type"] == "http":
            self.requests[f"{scope['method']} {scope['path']}"] += 1
        await self.app(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--service-token", required=True)
    parser.add_argument("--tickets", type=int, default=10)
    args = parser.parse_args()
    state = CoreState()
    ws = args.workspace
    ann = state.add_user(ws, "Ann", email=EMAIL, role="admin", token=args.admin_token)
    state.add_service_token(ws, args.service_token)
    project = state.add_project(ws, "Website")
    tickets = [state.add_ticket(ws, f"Bench {n}", project_id=project) for n in range(args.tickets)]
    world = {"workspace": ws, "user": ann, "project": project, "tickets": tickets}
    uvicorn.run(
        World(create_core_sandbox(state), world, state),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
