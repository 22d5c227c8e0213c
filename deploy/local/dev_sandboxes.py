"""What ``make dev`` runs besides the services: the sandboxes and the capturing mail server,
their ports (offsets from ``--port-base``), their command lines, and the apps the services use
at them (invoice-export's at the accounting tools, the credential owner's OAuth apps).

Generated secrets go on the command lines as ``--flag=value``: a value may start with ``-``,
which ``--flag value`` would hand to argparse as an option.
"""

import argparse
import sys

EVERHOUR_SANDBOX = 101
CORE_SANDBOX = 102
QUICKBOOKS_SANDBOX = 103
XERO_SANDBOX = 104
FRESHBOOKS_SANDBOX = 105
"""Sandbox ports, as offsets from --port-base like the services' (8101..8105 by default)."""
CLICKUP_SANDBOX = 112
HUBSTAFF_SANDBOX = 113
"""Trackers' sandboxes (8112 and 8113 by default)."""
HARVEST_SANDBOX = 109
TEMPO_SANDBOX = 110
WRIKE_SANDBOX = 111
XERO_PROJECTS_SANDBOX = 114
ZOHO_SANDBOX = 115
"""More trackers' sandboxes (8109, 8110, 8111, 8114, 8115 by default)."""
QUICKBOOKS_TIME_SANDBOX = 116
"""The QuickBooks Time sandbox (8116 by default)."""
BAMBOOHR_SANDBOX = 117
"""The BambooHR sandbox (8117 by default): an HR source of time off."""
MAIL_CAPTURE = 106
"""The capturing mail server's HTTP port offset (8106: read what reporting sent)."""
TOGGL_SANDBOX = 107
CLOCKIFY_SANDBOX = 108
"""The Toggl Track and Clockify sandboxes (8107, 8108)."""
MAIL_CAPTURE_SMTP = 125
REPORT_REQUESTS_SMTP = 25
"""Reporting's inbound SMTP endpoint (8025): reports requested by email."""
INVOICE_EXPORT = 4
CONSOLE = 6
"""The console's port offset (8006): the admins' web pages over the services' APIs."""
ACCOUNTING = {
    # tool: (sandbox port offset, authorize path, token path)
    "quickbooks": (QUICKBOOKS_SANDBOX, "/connect/oauth2", "/oauth2/v1/tokens/bearer"),
    "xero": (XERO_SANDBOX, "/identity/connect/authorize", "/connect/token"),
    "freshbooks": (FRESHBOOKS_SANDBOX, "/oauth/authorize", "/auth/oauth/token"),
}
ACCOUNTING_CLIENT_ID = "timebridge-dev"
TRACKERS = {
    # provider: (sandbox port offset, the API's path under its host, as the provider serves it)
    "toggl": (TOGGL_SANDBOX, "/api/v9"),
    "clockify": (CLOCKIFY_SANDBOX, "/api/v1"),
    "clickup": (CLICKUP_SANDBOX, "/api"),
    "hubstaff": (HUBSTAFF_SANDBOX, ""),
    "harvest": (HARVEST_SANDBOX, "/v2"),
    "tempo": (TEMPO_SANDBOX, "/4"),
    "wrike": (WRIKE_SANDBOX, "/api/v4"),
    "xero_projects": (XERO_PROJECTS_SANDBOX, "/projects.xro/2.0"),
    "zoho": (ZOHO_SANDBOX, "/restapi"),
    "quickbooks_time": (QUICKBOOKS_TIME_SANDBOX, "/api/v1"),
    "bamboohr": (BAMBOOHR_SANDBOX, ""),
}
"""The trackers' (and the HR source's) sandboxes ingest calls in ``make dev`` (TB_API_URLS)."""
QUICKBOOKS_TIME_APP = ("sandbox-qbt-client", "sandbox-qbt-secret")
"""The QuickBooks Time sandbox's OAuth app (fixed in the sandbox): connecting it by consent."""
CONSENT_TRACKERS = {
    # provider: (consent page path, token path) at its sandbox, as the provider serves them
    "quickbooks_time": ("/api/v1/authorize", "/api/v1/grant"),
    "xero_projects": ("/identity/connect/authorize", "/connect/token"),
    "zoho": ("/oauth/v2/auth", "/oauth/v2/token"),
    "wrike": ("/oauth2/authorize/v4", "/oauth2/token"),
    "hubstaff": ("/authorizations/new", "/access_tokens"),
}
"""The OAuth trackers connected by consent in ``make dev``: each sandbox's own app (fixed in the
sandbox: ``sandbox-<name>-client``, QuickBooks Time's :data:`QUICKBOOKS_TIME_APP`)."""


def flag(name: str, value: str | int) -> str:
    """``--name=value``: one argument, so a value starting with ``-`` (a generated secret may)
    is not taken for an option, as ``--name value`` would be."""
    return f"--{name}={value}"


def sandbox_commands(args: argparse.Namespace, creds: dict[str, str]) -> dict[str, list[str]]:
    sandbox = [sys.executable, "-m", "timebridge_sandboxes"]
    invoice = f"http://127.0.0.1:{args.port_base + INVOICE_EXPORT}"
    return {
        "everhour-sandbox": [
            *sandbox, "everhour", flag("port", args.port_base + EVERHOUR_SANDBOX),
            flag("api-key", creds["EVERHOUR_API_KEY"]),
            flag("member-api-key", creds["EVERHOUR_MEMBER_API_KEY"]),
        ],
        "core-sandbox": [
            *sandbox, "core", flag("port", args.port_base + CORE_SANDBOX),
            flag("workspace", args.workspace),
            flag(
                "webhook-url",
                f"http://127.0.0.1:{args.port_base + 1}/v1/webhooks/core/{args.workspace}",
            ),
            flag("webhook-secret", creds["DEMO_CORE_WEBHOOK_SECRET"]),
            flag("admin-token", creds["CORE_ADMIN_TOKEN"]),
            flag("member-token", creds["CORE_MEMBER_TOKEN"]),
            flag("service-token", creds["CORE_SERVICE_TOKEN"]),
        ],
        "quickbooks-sandbox": [
            *sandbox, "quickbooks", flag("port", args.port_base + QUICKBOOKS_SANDBOX),
            flag("client-id", ACCOUNTING_CLIENT_ID),
            flag("client-secret", creds["QUICKBOOKS_CLIENT_SECRET"]),
            flag("redirect-uri", f"{invoice}/v1/oauth/quickbooks/callback"),
            flag("webhook-url", f"{invoice}/v1/webhooks/quickbooks"),
            flag("verifier-token", creds["QUICKBOOKS_VERIFIER_TOKEN"]),
        ],
        "xero-sandbox": [
            *sandbox, "xero", flag("port", args.port_base + XERO_SANDBOX),
            flag("client-id", ACCOUNTING_CLIENT_ID),
            flag("client-secret", creds["XERO_CLIENT_SECRET"]),
            flag("redirect-uri", f"{invoice}/v1/oauth/xero/callback"),
        ],
        "freshbooks-sandbox": [
            *sandbox, "freshbooks", flag("port", args.port_base + FRESHBOOKS_SANDBOX),
            flag("client-id", ACCOUNTING_CLIENT_ID),
            flag("client-secret", creds["FRESHBOOKS_CLIENT_SECRET"]),
        ],
        "toggl-sandbox": [
            *sandbox, "toggl", flag("port", args.port_base + TOGGL_SANDBOX),
            flag("token", creds["TOGGL_API_TOKEN"]),
            flag("member-token", creds["TOGGL_MEMBER_API_TOKEN"]),
        ],
        "clockify-sandbox": [
            *sandbox, "clockify", flag("port", args.port_base + CLOCKIFY_SANDBOX),
            flag("api-key", creds["CLOCKIFY_API_KEY"]),
            flag("member-api-key", creds["CLOCKIFY_MEMBER_API_KEY"]),
        ],
        "clickup-sandbox": [
            *sandbox, "clickup", flag("port", args.port_base + CLICKUP_SANDBOX),
            flag("token", creds["CLICKUP_TOKEN"]),
            flag("member-token", creds["CLICKUP_MEMBER_TOKEN"]),
        ],
        "hubstaff-sandbox": [
            *sandbox, "hubstaff", flag("port", args.port_base + HUBSTAFF_SANDBOX),
            flag("token", creds["HUBSTAFF_ACCESS_TOKEN"]),
            flag("member-token", creds["HUBSTAFF_MEMBER_ACCESS_TOKEN"]),
        ],
        "harvest-sandbox": [
            *sandbox, "harvest", flag("port", args.port_base + HARVEST_SANDBOX),
            flag("token", creds["HARVEST_TOKEN"]),
            flag("member-token", creds["HARVEST_MEMBER_TOKEN"]),
        ],
        "tempo-sandbox": [
            *sandbox, "tempo", flag("port", args.port_base + TEMPO_SANDBOX),
            flag("token", creds["TEMPO_TOKEN"]),
            flag("member-token", creds["TEMPO_MEMBER_TOKEN"]),
        ],
        "wrike-sandbox": [
            *sandbox, "wrike", flag("port", args.port_base + WRIKE_SANDBOX),
            flag("token", creds["WRIKE_TOKEN"]),
            flag("member-token", creds["WRIKE_MEMBER_TOKEN"]),
        ],
        "xero-projects-sandbox": [
            *sandbox, "xero-projects", flag("port", args.port_base + XERO_PROJECTS_SANDBOX),
            flag("token-secret", creds["XERO_PROJECTS_TOKEN_SECRET"]),
            flag("member-token-secret", creds["XERO_PROJECTS_MEMBER_TOKEN_SECRET"]),
        ],
        "zoho-sandbox": [
            *sandbox, "zoho", flag("port", args.port_base + ZOHO_SANDBOX),
            flag("token", creds["ZOHO_TOKEN"]),
            flag("member-token", creds["ZOHO_MEMBER_TOKEN"]),
        ],
        "quickbooks-time-sandbox": [
            *sandbox, "quickbooks-time", flag("port", args.port_base + QUICKBOOKS_TIME_SANDBOX),
            flag("token", creds["QUICKBOOKS_TIME_TOKEN"]),
            flag("member-token", creds["QUICKBOOKS_TIME_MEMBER_TOKEN"]),
        ],
        "bamboohr-sandbox": [
            *sandbox, "bamboohr", flag("port", args.port_base + BAMBOOHR_SANDBOX),
            flag("token", creds["BAMBOOHR_TOKEN"]),
            flag("member-token", creds["BAMBOOHR_MEMBER_TOKEN"]),
        ],
        "mail-capture": [
            sys.executable, "-m", "timebridge_reporting.mail_capture",
            flag("smtp-port", args.port_base + MAIL_CAPTURE_SMTP),
            flag("http-port", args.port_base + MAIL_CAPTURE),
        ],
    }  # fmt: skip


SANDBOXES = (
    ("everhour-sandbox", EVERHOUR_SANDBOX),
    ("core-sandbox", CORE_SANDBOX),
    ("quickbooks-sandbox", QUICKBOOKS_SANDBOX),
    ("xero-sandbox", XERO_SANDBOX),
    ("freshbooks-sandbox", FRESHBOOKS_SANDBOX),
    ("toggl-sandbox", TOGGL_SANDBOX),
    ("clockify-sandbox", CLOCKIFY_SANDBOX),
    ("clickup-sandbox", CLICKUP_SANDBOX),
    ("hubstaff-sandbox", HUBSTAFF_SANDBOX),
    ("harvest-sandbox", HARVEST_SANDBOX),
    ("tempo-sandbox", TEMPO_SANDBOX),
    ("wrike-sandbox", WRIKE_SANDBOX),
    ("xero-projects-sandbox", XERO_PROJECTS_SANDBOX),
    ("zoho-sandbox", ZOHO_SANDBOX),
    ("quickbooks-time-sandbox", QUICKBOOKS_TIME_SANDBOX),
    ("bamboohr-sandbox", BAMBOOHR_SANDBOX),
    ("mail-capture", MAIL_CAPTURE),
)


def accounting_env(args: argparse.Namespace, creds: dict[str, str]) -> dict[str, str]:
    """invoice-export's apps at the accounting tools: the sandboxes, with the dev secrets."""
    env = {
        "TB_PUBLIC_BASE_URL": f"http://127.0.0.1:{args.port_base + INVOICE_EXPORT}",
        # After a tool's consent screen the browser comes back to the console's Accounting page.
        "TB_CONSOLE_URL": f"http://127.0.0.1:{args.port_base + CONSOLE}",
    }
    secrets_of = {
        "quickbooks": "QUICKBOOKS_VERIFIER_TOKEN",
        "xero": "XERO_WEBHOOK_KEY",
        "freshbooks": None,
    }
    for tool, (offset, authorize, token) in ACCOUNTING.items():
        base = f"http://127.0.0.1:{args.port_base + offset}"
        prefix = f"TB_{tool.upper()}__"
        env |= {
            f"{prefix}CLIENT_ID": ACCOUNTING_CLIENT_ID,
            f"{prefix}CLIENT_SECRET": creds[f"{tool.upper()}_CLIENT_SECRET"],
            f"{prefix}API_URL": base,
            f"{prefix}AUTHORIZE_URL": f"{base}{authorize}",
            f"{prefix}TOKEN_URL": f"{base}{token}",
        }
        secret = secrets_of[tool]
        if secret is not None:
            env[f"{prefix}WEBHOOK_SECRET"] = creds[secret]
    return env


def oauth_apps_env(args: argparse.Namespace, creds: dict[str, str]) -> dict[str, str]:
    """The credential owner's OAuth apps: the accounting sandboxes' and the OAuth trackers'
    (QuickBooks Time, Xero Projects, Zoho Projects, Wrike, Hubstaff: each at its sandbox)."""
    env: dict[str, str] = {}
    for tool, (offset, _authorize, token) in ACCOUNTING.items():
        prefix = f"TB_OAUTH_APPS__{tool.upper()}__"
        env |= {
            f"{prefix}CLIENT_ID": ACCOUNTING_CLIENT_ID,
            f"{prefix}CLIENT_SECRET": creds[f"{tool.upper()}_CLIENT_SECRET"],
            f"{prefix}TOKEN_URL": f"http://127.0.0.1:{args.port_base + offset}{token}",
        }
    for provider, (authorize, token) in CONSENT_TRACKERS.items():
        offset, _ = TRACKERS[provider]  # an OAuth tracker connected by consent from the console
        sandbox = f"http://127.0.0.1:{args.port_base + offset}"
        slug = provider.replace("_", "-")
        client_id, client_secret = (
            QUICKBOOKS_TIME_APP
            if provider == "quickbooks_time"
            else (f"sandbox-{slug}-client", f"sandbox-{slug}-secret")
        )
        prefix = f"TB_OAUTH_APPS__{provider.upper()}__"
        env |= {
            f"{prefix}CLIENT_ID": client_id,
            f"{prefix}CLIENT_SECRET": client_secret,
            f"{prefix}TOKEN_URL": sandbox + token,
            f"{prefix}AUTHORIZE_URL": sandbox + authorize,
        }
    return env
