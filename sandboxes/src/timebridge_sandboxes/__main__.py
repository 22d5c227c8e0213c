"""``timebridge-sandbox everhour|core --port ...``: run a sandbox on this machine.

Each sandbox starts with demo data, so a client can connect at once; ``POST /_sandbox/seed``
adds more. Everhour: one admin user whose API key is ``--api-key`` and one project with a section
and a task. Core: workspace ``--workspace`` with an admin, a member, a service token (the tokens
are printed), a project and a ticket; ``--webhook-url`` and ``--webhook-secret`` subscribe it.
FreshBooks: the OAuth app ``--client-id``/``--client-secret``, Ann as owner of one business (the
one ``/oauth/authorize`` consents as) and two clients; webhooks go where callbacks are registered.
QuickBooks: the OAuth app ``--client-id``/``--client-secret`` and one company (its realm id and a
ready access token are printed) with two customers, an income account and a service item.
Xero: the OAuth app ``--client-id``/``--client-secret`` and one organisation with two customers
and a supplier; ``PUT /_sandbox/webhook`` subscribes a receiver (after intent-to-receive).
Harvest: account ``--account-id`` with Ann (administrator, token ``--token``, time zone Berlin)
and Max (member, ``--member-token``), a client with the project "Website" offering the tasks "Fix
the login page" (billable) and "Meetings"; API under ``/v2``; polled (Harvest has no webhooks).
Toggl: workspace 7000001 with Ann (admin, ``--token``, Berlin) and Max (member, ``--member-token``),
the project "Website" with the task "Fix the login page"; API v9 under ``/api/v9``, Reports API v3
under ``/reports/api/v3``, webhook subscriptions under ``/webhooks/api/v1`` (delivered over HTTP).
Clockify: workspace 64a687e29ae1f428e7eb0001 with Ann (admin, ``--api-key``, Berlin) and Max
(member, ``--member-api-key``), the project "Website" with the task "Fix the login page"; API under
``/api/v1``, the summary report under ``/report/v1`` (as on Clockify's regional hosts).
Tempo: Tempo Cloud API v4 under ``/4`` with Ann (Berlin, bearer ``--token``) and Max (New York,
``--member-token``) and the Jira issues WEB-1 (id 10001) and WEB-2 (10002); polled (no webhooks).
Wrike: API v4 under ``/api/v4`` with Ann (Berlin, bearer ``--token``) and Max (New York,
``--member-token``), the project "Website" with the task "Fix the login page"; polled.
Xero Projects (``xero-projects``): an organisation in London with Ann and Max (their access tokens
and the tenant id printed), the project "Website"; API under ``/projects.xro/2.0``; polled.
Zoho Projects: portal 60000001 ("acme") with Ann (``--token``, as ``Zoho-oauthtoken``) and Max
(``--member-token``), the project "Website" with the task "Fix the login page"; REST API under
``/restapi``; polled.
QuickBooks Time (``quickbooks-time``): API v1 under ``/api/v1`` with Ann (user 1242515, bearer
``--token``) and Max (``--member-token``), the job "Website" (jobcode 17288283) with the task "Fix
the login page" (17288284); polled (``modified_since`` and ``/timesheets_deleted``).
BambooHR: company "acme", API v1 under ``/api/v1`` (Basic auth, the key as user name) with Ann
(HR admin, ``--token``) and Max (``--member-token``), time-off types Vacation and Sick (hours) and
Parental leave (days); polled for time off.
"""

import argparse
import secrets
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from timebridge_sandboxes.bamboohr import create_bamboohr_sandbox, demo_bamboohr
from timebridge_sandboxes.clickup import create_clickup_sandbox, demo_clickup
from timebridge_sandboxes.clockify import create_clockify_sandbox, demo_clockify
from timebridge_sandboxes.core import CoreState, Subscription, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.freshbooks import FreshBooksState, create_freshbooks_sandbox
from timebridge_sandboxes.harvest import create_harvest_sandbox, demo_harvest
from timebridge_sandboxes.hubstaff import create_hubstaff_sandbox, demo_hubstaff
from timebridge_sandboxes.quickbooks import (
    QuickBooksState,
    WebhookTarget,
    create_quickbooks_sandbox,
)
from timebridge_sandboxes.quickbooks_time import (
    create_quickbooks_time_sandbox,
    demo_quickbooks_time,
)
from timebridge_sandboxes.tempo import create_tempo_sandbox, demo_tempo
from timebridge_sandboxes.toggl import create_toggl_sandbox, demo_toggl
from timebridge_sandboxes.wrike import create_wrike_sandbox, demo_wrike
from timebridge_sandboxes.xero import XeroState, create_xero_sandbox
from timebridge_sandboxes.xero_projects import create_xero_projects_sandbox, demo_xero_projects
from timebridge_sandboxes.zoho import create_zoho_sandbox, demo_zoho


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


def demo_freshbooks(client_id: str, client_secret: str) -> FreshBooksState:
    """Ann (the demo's admin, by email) owns a business with two clients to mirror."""
    state = FreshBooksState(client_id=client_id, client_secret=client_secret)
    account = state.add_business("Acme Studio")
    state.add_identity("Ann", "Admin", "ann@example.com", {account: "owner"})
    state.add_client(account, organization="Website Client", email="billing@website.example")
    state.add_client(account, fname="Gordon", lname="Shumway", email="gordon@example.com")
    return state


def quickbooks_app(args: argparse.Namespace) -> FastAPI:
    """A company with customers to mirror and a service item; prints how to call it at once."""
    state = QuickBooksState()
    state.add_app(args.client_id, args.client_secret, args.redirect_uri)
    realm = state.add_company("Acme Consulting")
    account = state.add_account(realm, "Services")
    state.add_item(realm, "Hours", account)
    address = {"Line1": "1 Main St", "City": "Springfield", "PostalCode": "62701"}
    email = {"Address": "billing@website.example"}
    state.add_customer(
        realm, {"DisplayName": "Website Client", "BillAddr": address, "PrimaryEmailAddr": email}
    )
    state.add_customer(realm, {"DisplayName": "Globex Corporation", "Taxable": True})
    if args.webhook_url:
        state.webhook = WebhookTarget(args.webhook_url, args.verifier_token)
    print(f"realm id: {realm}", flush=True)
    print(f"access token: {state.issue_tokens(realm, args.client_id)[0]}", flush=True)
    return create_quickbooks_sandbox(state)


def demo_xero(client_id: str, client_secret: str, redirect_uris: list[str]) -> XeroState:
    """An organisation whose active customers the mirror reads, and a supplier it leaves out."""
    state = XeroState()
    state.add_app(client_id, client_secret, redirect_uris)
    tenant = state.add_tenant("Demo Company (Timebridge)")
    address = {"AddressType": "POBOX", "AddressLine1": "1 Main St", "City": "Wellington"}
    state.add_contact(
        tenant, "Website Client", email="billing@website.example", addresses=[address]
    )
    state.add_contact(tenant, "Globex Corporation", tax_number="GB123456789")
    state.add_contact(tenant, "Paper Supplies", is_customer=False, is_supplier=True)
    return state


def add_xero_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    xero = commands.add_parser("xero", help="the Xero look-alike: OAuth2, Accounting, webhooks")
    xero.add_argument("--port", type=int, default=9104)
    xero.add_argument("--host", default="127.0.0.1")
    xero.add_argument("--client-id", default="sandbox-xero-client")
    xero.add_argument("--client-secret", default="sandbox-xero-secret")
    xero.add_argument(
        "--redirect-uri",
        action="append",
        default=["http://127.0.0.1:8004/oauth/xero/callback"],
        help="a registered redirect URI (repeatable)",
    )


def add_harvest_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    harvest = commands.add_parser("harvest", help="the Harvest API v2 look-alike (polled)")
    harvest.add_argument("--port", type=int, default=9106)
    harvest.add_argument("--host", default="127.0.0.1")
    harvest.add_argument("--token", default="sandbox-harvest-token")
    harvest.add_argument("--member-token", default="sandbox-harvest-member-token")
    harvest.add_argument("--account-id", default="1000001")


def add_tracker_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    toggl = commands.add_parser("toggl", help="the Toggl Track API v9 look-alike, signed webhooks")
    toggl.add_argument("--port", type=int, default=9107)
    toggl.add_argument("--host", default="127.0.0.1")
    toggl.add_argument("--token", default="sandbox-toggl-token")
    toggl.add_argument("--member-token", default="sandbox-toggl-member-token")
    clockify = commands.add_parser("clockify", help="the Clockify API v1 look-alike, webhooks")
    clockify.add_argument("--port", type=int, default=9108)
    clockify.add_argument("--host", default="127.0.0.1")
    clockify.add_argument("--api-key", default="sandbox-clockify-key")
    clockify.add_argument("--member-api-key", default="sandbox-clockify-member-key")
    tempo = commands.add_parser("tempo", help="the Tempo Cloud API v4 look-alike (polled)")
    tempo.add_argument("--port", type=int, default=9111)
    tempo.add_argument("--host", default="127.0.0.1")
    tempo.add_argument("--token", default="sandbox-tempo-token")
    tempo.add_argument("--member-token", default="sandbox-tempo-member-token")
    wrike = commands.add_parser("wrike", help="the Wrike API v4 look-alike, webhooks")
    wrike.add_argument("--port", type=int, default=9117)
    wrike.add_argument("--host", default="127.0.0.1")
    wrike.add_argument("--token", default="sandbox-wrike-token")
    wrike.add_argument("--member-token", default="sandbox-wrike-member-token")


def toggl_app(args: argparse.Namespace) -> FastAPI:
    """The demo workspace (its id printed); webhook subscriptions are delivered over HTTP."""
    state = demo_toggl(args.token, args.member_token)
    print(f"workspace id: {state.workspace_id}", flush=True)
    return create_toggl_sandbox(state, deliver_over_network=True)


def clockify_app(args: argparse.Namespace) -> FastAPI:
    state = demo_clockify(args.api_key, args.member_api_key)
    return create_clockify_sandbox(state, deliver_over_network=True)


def add_clickup_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    clickup = commands.add_parser("clickup", help="the ClickUp API v2 look-alike, webhooks")
    clickup.add_argument("--port", type=int, default=9112)
    clickup.add_argument("--host", default="127.0.0.1")
    clickup.add_argument("--token", default="pk_sandbox_clickup_token")
    clickup.add_argument("--member-token", default="pk_sandbox_clickup_member_token")
    hubstaff = commands.add_parser("hubstaff", help="the Hubstaff API v2 look-alike, webhooks")
    hubstaff.add_argument("--port", type=int, default=9113)
    hubstaff.add_argument("--host", default="127.0.0.1")
    hubstaff.add_argument("--token", default="sandbox-hubstaff-access-token")
    hubstaff.add_argument("--member-token", default="sandbox-hubstaff-member-access-token")


def clickup_app(args: argparse.Namespace) -> FastAPI:
    """ClickUp: workspace 9000001 with Ann (owner, ``--token``, Berlin) and Max (member,
    ``--member-token``), the List "Website" with the task "Fix the login page"; API v2 under
    ``/api/v2``; webhooks delivered over HTTP, signed ``X-Signature``."""
    state = demo_clickup(args.token, args.member_token)
    print(f"workspace (team) id: {state.team_id}", flush=True)
    return create_clickup_sandbox(state, deliver_over_network=True)


def add_xero_projects_command(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    xero_projects = commands.add_parser(
        "xero-projects", help="the Xero Projects API look-alike (polled; bearer + tenant)"
    )
    xero_projects.add_argument("--port", type=int, default=9119)
    xero_projects.add_argument("--host", default="127.0.0.1")
    xero_projects.add_argument("--token-secret", default="sandbox-xero-projects-ann")
    xero_projects.add_argument("--member-token-secret", default="sandbox-xero-projects-max")


def xero_projects_app(args: argparse.Namespace) -> FastAPI:
    """Xero Projects: an organisation in London (its tenant id and each user's access token
    printed) with Ann and Max, the project "Website" with the tasks "Fix the login page" and
    "Meetings" (not chargeable); API under ``/projects.xro/2.0``."""
    state, tokens = demo_xero_projects(args.token_secret, args.member_token_secret)
    print(f"tenant id: {state.tenant_id}", flush=True)
    for email, token in tokens.items():
        print(f"access token of {email}: {token}", flush=True)
    return create_xero_projects_sandbox(state)


def add_zoho_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    zoho = commands.add_parser("zoho", help="the Zoho Projects REST API look-alike (polled)")
    zoho.add_argument("--port", type=int, default=9120)
    zoho.add_argument("--host", default="127.0.0.1")
    zoho.add_argument("--token", default="1000.sandbox-zoho-token")
    zoho.add_argument("--member-token", default="1000.sandbox-zoho-member-token")


def add_quickbooks_time_command(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    qbt = commands.add_parser("quickbooks-time", help="the QuickBooks Time API v1 look-alike")
    qbt.add_argument("--port", type=int, default=9116)
    qbt.add_argument("--host", default="127.0.0.1")
    qbt.add_argument("--token", default="sandbox-quickbooks-time-token")
    qbt.add_argument("--member-token", default="sandbox-quickbooks-time-member-token")
    bamboohr = commands.add_parser("bamboohr", help="the BambooHR API v1 look-alike (time off)")
    bamboohr.add_argument("--port", type=int, default=9121)
    bamboohr.add_argument("--host", default="127.0.0.1")
    bamboohr.add_argument("--token", default="sandbox-bamboohr-key")
    bamboohr.add_argument("--member-token", default="sandbox-bamboohr-member-key")


TRACKER_APPS: dict[str, Callable[[argparse.Namespace], FastAPI]] = {
    "toggl": toggl_app,
    "clockify": clockify_app,
    "clickup": clickup_app,
    "hubstaff": lambda args: create_hubstaff_sandbox(
        demo_hubstaff(args.token, args.member_token), deliver_over_network=True
    ),
    "xero-projects": xero_projects_app,
    "zoho": lambda args: create_zoho_sandbox(demo_zoho(args.token, args.member_token)),
    "tempo": lambda args: create_tempo_sandbox(demo_tempo(args.token, args.member_token)),
    "wrike": lambda args: create_wrike_sandbox(
        demo_wrike(args.token, args.member_token), deliver_over_network=True
    ),
    "quickbooks-time": lambda args: create_quickbooks_time_sandbox(
        demo_quickbooks_time(args.token, args.member_token)
    ),
    "bamboohr": lambda args: create_bamboohr_sandbox(demo_bamboohr(args.token, args.member_token)),
}
"""Sandboxes built from their parsed arguments (one line each instead of a branch of ``main``)."""


def main(argv: list[str] | None = None) -> None:  # noqa: PLR0915 - one parser per sandbox
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
    freshbooks = commands.add_parser("freshbooks", help="the FreshBooks API look-alike, OAuth2")
    freshbooks.add_argument("--port", type=int, default=9105)
    freshbooks.add_argument("--host", default="127.0.0.1")
    freshbooks.add_argument("--client-id", default="sandbox-freshbooks-client")
    freshbooks.add_argument("--client-secret", default="sandbox-freshbooks-secret")
    quickbooks = commands.add_parser("quickbooks", help="the QuickBooks Online look-alike, OAuth2")
    quickbooks.add_argument("--port", type=int, default=9103)
    quickbooks.add_argument("--host", default="127.0.0.1")
    quickbooks.add_argument("--client-id", default="sandbox-quickbooks-client")
    quickbooks.add_argument("--client-secret", default="sandbox-quickbooks-secret")
    quickbooks.add_argument(
        "--redirect-uri",
        action="append",
        default=["http://127.0.0.1:8004/oauth/quickbooks/callback"],
        help="a registered redirect URI (repeatable)",
    )
    quickbooks.add_argument("--webhook-url", help="the app's webhook endpoint")
    quickbooks.add_argument("--verifier-token", default="sandbox-quickbooks-verifier")
    add_xero_command(commands)
    add_harvest_command(commands)
    add_tracker_commands(commands)
    add_clickup_command(commands)
    add_xero_projects_command(commands)
    add_zoho_command(commands)
    add_quickbooks_time_command(commands)
    args = parser.parse_args(argv)
    app: FastAPI
    if args.provider == "freshbooks":
        app = create_freshbooks_sandbox(demo_freshbooks(args.client_id, args.client_secret))
    elif args.provider == "quickbooks":
        app = quickbooks_app(args)
    elif args.provider == "xero":
        app = create_xero_sandbox(demo_xero(args.client_id, args.client_secret, args.redirect_uri))
    elif args.provider == "harvest":
        app = create_harvest_sandbox(demo_harvest(args.token, args.member_token, args.account_id))
    elif args.provider in TRACKER_APPS:
        app = TRACKER_APPS[args.provider](args)
    elif args.provider == "everhour":
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
