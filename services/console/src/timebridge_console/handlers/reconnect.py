"""Re-connecting an integration whose key the tracker refuses, keeping the integration.

Ingest replaces the connection's key (tested first, handed to the credential owner) and keeps
the integration, its settings and its mappings: nothing is mapped afresh, and polls and paused
imports carry on with the new key.
"""

from typing import Any

from timebridge_console.adapters.api import Caller, segment

REPLACE_KEY = "/v1/workspaces/{workspace}/integrations/{integration}/credentials"
"""Ingest's route replacing a connection's key (``PUT``, ``{"api_key": ...}``)."""


async def replace_key(
    caller: Caller, workspace_id: str, integration_id: str, api_key: str
) -> dict[str, Any]:
    path = REPLACE_KEY.format(workspace=segment(workspace_id), integration=segment(integration_id))
    replaced: dict[str, Any] = await caller.put("ingest", path, {"api_key": api_key})
    return replaced
