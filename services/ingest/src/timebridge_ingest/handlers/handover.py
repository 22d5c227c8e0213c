"""Handing the secrets saved before the credential owner held them over to it, once each.

Ingest kept every tracker key and Core token itself (sealed) and sent them on Kafka; now the
credentials service owns them. An upgrade needs no admin: at start-up each secret the owner does
not hold yet is put with it (a PUT, so a retry after a crash is harmless) and marked as held.
An OAuth tracker connected before kept no refresh token here (none was asked for): it cannot be
handed over and is left for its admin to connect again (logged).
"""

import asyncio
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import structlog
from timebridge_providers.installed import registry
from timebridge_providers.kit.credentials import CredentialKeeper

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_ingest.domain.connections import Integration, Workspace, core_connection_id

log = structlog.get_logger(__name__)


class HandoverTx(Protocol):
    async def not_at_owner(self) -> tuple[list[Workspace], list[Integration]]: ...

    async def mark_at_owner(self, connection_id: str) -> None: ...


class HandoverStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[HandoverTx]: ...


async def hand_over(store: HandoverStore, owner: CredentialKeeper) -> int:
    """Put every secret the owner does not hold yet with it; how many were handed over."""
    async with store.transaction() as tx:
        workspaces, integrations = await tx.not_at_owner()
    home = registry().home().name
    handed = 0
    for workspace in workspaces:
        if workspace.core_token is None:
            continue  # nothing kept here to hand over (the owner holds it)
        connection_id = core_connection_id(workspace.workspace_id)
        put = owner.put_key(
            workspace.workspace_id,
            connection_id,
            home,
            workspace.core_token,
            base_url=workspace.core_base_url,
        )
        handed += await _put(store, connection_id, put)
    for integration in integrations:
        if integration.api_key is None or integration.provider not in registry():
            continue
        if registry().get(integration.provider).profile.auth == "oauth2":
            log.warning(
                "an OAuth tracker connected before the credential owner held its tokens must be"
                " connected again (no refresh token was kept)",
                integration=integration.integration_id,
            )
            continue
        put = owner.put_key(
            integration.workspace_id,
            integration.integration_id,
            integration.provider,
            integration.api_key,
            base_url=integration.base_url,
            extra=integration.extra,
        )
        handed += await _put(store, integration.integration_id, put)
    if handed:
        log.info("secrets handed to the credential owner", count=handed)
    return handed


async def _put(store: HandoverStore, connection_id: str, put: Awaitable[None]) -> int:
    """Put one secret and mark it held; a secret the owner refuses is logged and left (it is
    tried again at the next start; its admin may connect again meanwhile)."""
    try:
        await put
    except InvalidMessageError as exc:
        log.error(
            "the credential owner refused a saved secret", connection=connection_id, error=str(exc)
        )
        return 0
    async with store.transaction() as tx:
        await tx.mark_at_owner(connection_id)
    return 1


async def hand_over_until_done(
    store: HandoverStore, owner: CredentialKeeper, *, wait_s: float = 5.0
) -> None:
    """Run :func:`hand_over` at start-up, again while the owner is unavailable."""
    while True:
        try:
            await hand_over(store, owner)
        except TransientError as exc:
            log.warning("credential owner unavailable: handing secrets over later", error=str(exc))
            await asyncio.sleep(wait_s)
            continue
        return
