"""``timebridge-sandbox everhour|core --port ...``: run a sandbox on this machine.

Each sandbox starts with demo data, so a client can connect at once; ``POST /_sandbox/seed``
adds more. Everhour: one admin user whose API key is ``--api-key`` and one project with a section
and a task. Core: workspace ``--workspace`` with an admin, a member, a service token (the tokens
are printed), a project and a ticket; ``--webhook-url`` and ``--webhook-secret`` subscribe it.
"""

import argparse
import secrets

import uvicorn
from fastapi import FastAPI

from timebridge_sandboxes.core import CoreState, Subscription, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox


def demo_everhour(api_key: str, member_key: str) -> EverhourState:
    """The same people and work as the Core demo, so mapping by email and title has matches."""
    state = EverhourState()
    state.add_user("Ann Admin", api_key=api_key, email="ann@example.com")
    state.add_user("Max Member", api_key=member_key, email="max@example.com", role="member")
    project = state.add_project("Website")
    state.add_task(project, "Fix the login page", section_id=state.add_section(project, "To do"))
    return state


def demo_core(
    workspace: str, given: dict[str, str | None] | None = None
) -> tuple[CoreState, dict[str, str]]:
    """The demo workspace and its tokens by kind (random unless given: the port is reachable)."""
    given = given or {}
    tokens = {
        kind: given.get(kind) or f"core-{kind}-{secrets.token_urlsafe(12)}"
        for kind in ("admin", "member", "service")
    }
    state = CoreState()
    state.add_user(
        workspace, "Ann Admin", email="ann@example.com", role="admin", token=tokens["admin"]
    )
    state.add_user(workspace, "Max Member", email="max@example.com", token=tokens["member"])
    state.add_service_token(workspace, tokens["service"])
    project = state.add_project(workspace, "Website")
    state.add_ticket(workspace, "Fix the login page", project_id=project)
    return state, tokens


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="timebridge-sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="provider", required=True)
    everhour = commands.add_parser("everhour", help="the Everhour API look-alike")
    everhour.add_argument("--port", type=int, default=9101)
    everhour.add_argument("--api-key", default="sandbox-everhour-key")
    everhour.add_argument("--member-api-key", default="sandbox-everhour-member-key")
    core = commands.add_parser("core", help="the Core API look-alike, with signed webhooks")
    core.add_argument("--port", type=int, default=9102)
    core.add_argument("--workspace", default="demo")
    core.add_argument("--webhook-url", help="where the workspace's webhooks go")
    core.add_argument("--webhook-secret", help="their signing secret (with --webhook-url)")
    for kind in ("admin", "member", "service"):
        core.add_argument(f"--{kind}-token", help=f"the {kind} token (default: random)")
    for command in (everhour, core):
        command.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    app: FastAPI
    if args.provider == "everhour":
        app = create_everhour_sandbox(demo_everhour(args.api_key, args.member_api_key))
    else:
        if (args.webhook_url is None) != (args.webhook_secret is None):
            parser.error("--webhook-url and --webhook-secret go together")
        state, tokens = demo_core(
            args.workspace,
            {k: getattr(args, f"{k}_token") for k in ("admin", "member", "service")},
        )
        if args.webhook_url:
            state.webhooks[args.workspace] = Subscription(args.webhook_url, args.webhook_secret)
        for kind, token in tokens.items():
            print(f"{kind} token: {token}", flush=True)
        app = create_core_sandbox(state)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
