"""``make dev``'s OAuth apps at the credential owner (``dev_sandboxes.oauth_apps_env``): every
OAuth tracker connected by consent gets the app its sandbox registers (client id and secret as
the sandbox holds them), and its consent page and token endpoint at paths the sandbox serves."""

import argparse
from typing import Any

import dev_sandboxes
import httpx
import pytest
from timebridge_providers.installed import registry

from timebridge_sandboxes.hubstaff import create_hubstaff_sandbox
from timebridge_sandboxes.quickbooks_time import create_quickbooks_time_sandbox
from timebridge_sandboxes.wrike import create_wrike_sandbox
from timebridge_sandboxes.xero_projects import create_xero_projects_sandbox
from timebridge_sandboxes.zoho import create_zoho_sandbox

SANDBOXES: dict[str, Any] = {
    "quickbooks_time": (create_quickbooks_time_sandbox, "qbt"),
    "xero_projects": (create_xero_projects_sandbox, "xero_projects"),
    "zoho": (create_zoho_sandbox, "zoho"),
    "wrike": (create_wrike_sandbox, "wrike"),
    "hubstaff": (create_hubstaff_sandbox, "hubstaff"),
}


def test_every_oauth_tracker_is_connectable_by_consent_in_make_dev() -> None:
    consented = {
        p.profile.name
        for p in registry()
        if p.profile.kind == "tracker" and p.oauth is not None and p.oauth.authorize_url
    }
    assert consented == set(dev_sandboxes.CONSENT_TRACKERS) == set(SANDBOXES)


@pytest.mark.parametrize("provider", sorted(SANDBOXES))
async def test_the_owners_app_is_the_one_the_sandbox_registers(provider: str) -> None:
    env = dev_sandboxes.oauth_apps_env(argparse.Namespace(port_base=8000), _creds())
    create, attribute = SANDBOXES[provider]
    app = create()
    consents = getattr(app.state, attribute).consents
    prefix = f"TB_OAUTH_APPS__{provider.upper()}__"
    assert (env[f"{prefix}CLIENT_ID"], env[f"{prefix}CLIENT_SECRET"]) == (
        consents.client_id, consents.client_secret
    )  # fmt: skip
    offset, _ = dev_sandboxes.TRACKERS[provider]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        for name, method in (("AUTHORIZE_URL", "GET"), ("TOKEN_URL", "POST")):
            url = env[prefix + name]
            assert url.startswith(f"http://127.0.0.1:{8000 + offset}/")
            served = await http.request(method, "/" + url.split("/", 3)[3])
            assert served.status_code not in {404, 405}, (provider, name, url)


def _creds() -> dict[str, str]:
    return {f"{tool.upper()}_CLIENT_SECRET": "s" for tool in dev_sandboxes.ACCOUNTING}
