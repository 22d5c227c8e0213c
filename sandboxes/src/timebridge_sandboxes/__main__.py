"""``timebridge-sandbox everhour --port 9101``: run a sandbox on this machine.

The sandbox starts with one admin user whose API key is ``--api-key`` and one project with a
section and a task, so a client can connect at once; ``POST /_sandbox/seed`` adds more.
"""

import argparse

import uvicorn

from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox


def demo_everhour(api_key: str) -> EverhourState:
    state = EverhourState()
    state.add_user("Sandbox Admin", api_key=api_key, email="admin@sandbox.test")
    project = state.add_project("Sandbox project")
    state.add_task(project, "Sandbox task", section_id=state.add_section(project, "To do"))
    return state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="timebridge-sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="provider", required=True)
    everhour = commands.add_parser("everhour", help="the Everhour API look-alike")
    everhour.add_argument("--host", default="127.0.0.1")
    everhour.add_argument("--port", type=int, default=9101)
    everhour.add_argument("--api-key", default="sandbox-everhour-key")
    args = parser.parse_args(argv)
    app = create_everhour_sandbox(demo_everhour(args.api_key))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
