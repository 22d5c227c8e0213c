"""Which organisation a Xero consent is for: Xero's tenant selection after consent.

V (developer.xero.com/documentation/guides/oauth2/auth-flow, "Check the tenants you're
authorized to access"): ``GET https://api.xero.com/connections`` with the new access token lists
the tenants the person connected to the app (``tenantId``, ``tenantType``, ``tenantName``); API
calls then name one in ``Xero-Tenant-Id``. The organisation given when the consent started must
be among them; none given, the one organisation connected is taken, several are listed by name
for the person to choose and connect again.
"""

from typing import Any

import httpx

from timebridge_common.errors import TransientError
from timebridge_providers.kit.oauth import Consented, ConsentIncompleteError
from timebridge_providers.kit.ports.accounting import TENANT


def connections_url(base_url: str) -> str:
    """``/connections`` on the API's host (``https://api.xero.com/projects.xro/2.0`` ->
    ``https://api.xero.com/connections``; a sandbox's host the same way)."""
    url = httpx.URL(base_url)
    return str(url.copy_with(path="/connections", query=None))


async def choose_organisation(
    consented: Consented, http: httpx.AsyncClient
) -> tuple[str, dict[str, str]]:
    url = connections_url(consented.base_url)
    try:
        answer = await http.get(
            url, headers={"Authorization": f"Bearer {consented.access_token}"}, timeout=30
        )
    except httpx.HTTPError as exc:
        raise TransientError(f"xero connections failed ({type(exc).__name__})") from exc
    if answer.status_code == 429 or answer.status_code >= 500:
        raise TransientError(f"xero connections answered {answer.status_code}")
    organisations = _organisations(answer)
    if organisations is None:
        raise ConsentIncompleteError(
            f"Xero did not list the consent's organisations (HTTP {answer.status_code})"
        )
    given = consented.extra.get(TENANT, "").strip().lower()
    named = ", ".join(f"{name} ({tenant})" for tenant, name in organisations.items()) or "none"
    if given and given not in organisations:
        raise ConsentIncompleteError(
            f"the consent did not connect organisation {given}: it connected {named}"
        )
    if not given and len(organisations) != 1:
        raise ConsentIncompleteError(
            f"choose the organisation and connect again with its tenant id: {named}"
        )
    chosen = given or next(iter(organisations))
    return consented.base_url, {**consented.extra, TENANT: chosen}


def _organisations(answer: httpx.Response) -> dict[str, str] | None:
    """Organisation tenant ids (lower case) -> names, or ``None`` for an unusable answer."""
    if answer.status_code != 200:
        return None
    try:
        body: Any = answer.json()
    except ValueError:
        return None
    if not isinstance(body, list):
        return None
    return {
        str(c["tenantId"]).lower(): str(c.get("tenantName") or "")
        for c in body
        if isinstance(c, dict) and c.get("tenantType") == "ORGANISATION" and c.get("tenantId")
    }
