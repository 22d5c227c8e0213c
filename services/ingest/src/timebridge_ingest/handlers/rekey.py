"""Replacing a connection's key (or an OAuth tracker's tokens) while keeping the integration.

A revoked key, or an OAuth consent the provider no longer honours, made an admin connect a new
integration and disconnect the old one: new id, settings and mappings set again, history split.
Here the integration stays: the new secret is tested against the provider first (the guide's
"Test Connection"), handed to the credential owner (which replaces what it held, so every
service's next access is the new one), and only then is the integration saved again (a new
revision: who the key acts as may have changed). A secret the provider or the owner refuses
changes nothing (422 with the reason; the owner unavailable: 503; the provider too slow: 504).
"""

from dataclasses import replace

from timebridge_providers.installed import registry

from timebridge_common.outbound.oauth import Tokens
from timebridge_ingest.domain.connections import Integration, check_sign_in
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.connections import Connections


async def replace_credentials(
    connections: Connections,
    workspace_id: str,
    integration_id: str,
    api_key: str,
    *,
    oauth: Tokens | None = None,
) -> Integration:
    """The integration, now at the owner with ``api_key`` (``oauth``: the rest of a consent)."""
    current = await connections.get(workspace_id, integration_id)
    if current.status != "connected":
        raise RejectedError(409, "the integration is disconnected: connect it again")
    check_sign_in(registry().get(current.provider).profile, oauth=oauth, owner=True)
    result = await connections.test(current.provider, api_key, current.extra)
    if not result.ok:
        status = 504 if result.error_kind == "timeout" else 422
        raise RejectedError(status, f"connection test failed: {result.message}")
    held = await connections.hand_over(
        workspace_id,
        integration_id,
        current.provider,
        api_key,
        base_url=current.base_url,
        extra=current.extra,
        oauth=oauth,
    )
    if not held:
        raise RejectedError(503, "no credential owner is configured to hold the key")
    # Read again: a change saved meanwhile (settings, a hook renewed) is kept, not overwritten.
    latest = await connections.get(workspace_id, integration_id)
    if latest.status != "connected":
        raise RejectedError(409, "the integration was disconnected meanwhile")
    renewed = replace(
        latest,
        api_key=None,  # the owner holds it: no copy kept here
        account=result.account,
        at_owner=True,
        revision=latest.revision + 1,
    )
    await connections.save(renewed)
    return renewed
