"""What the routes depend on: the sandbox, authentication per scope, listings."""

from collections.abc import Callable
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Header, Request

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.xero.listing import _Listing, _listing
from timebridge_sandboxes.xero.rules import _Sandbox
from timebridge_sandboxes.xero.state import (
    CONTACTS_SCOPE,
    INVOICES_SCOPE,
    SETTINGS_SCOPE,
)
from timebridge_sandboxes.xero.wire import _Caller


def _sandbox(request: Request) -> _Sandbox:
    sandbox: _Sandbox = request.app.state.sandbox
    return sandbox


Sandbox = Annotated[_Sandbox, Depends(_sandbox)]


def _changing(sandbox: Sandbox, background: BackgroundTasks) -> _Sandbox:
    """The sandbox of a route that changes data: webhook events go out after its answer."""
    background.add_task(sandbox.deliver)
    return sandbox


Changing = Annotated[_Sandbox, Depends(_changing)]


def _scoped(scope: str) -> Callable[..., _Caller]:
    """The dependency authenticating an Accounting call that needs ``scope`` (or its read-only
    variant) and counting it against the tenant's limits."""

    def caller(
        sandbox: Sandbox,
        authorization: Annotated[str | None, Header()] = None,
        tenant_id: Annotated[str | None, Header(alias="xero-tenant-id")] = None,
        accept: Annotated[str | None, Header()] = None,
    ) -> _Caller:
        access = sandbox.bearer(authorization)
        if tenant_id is None or (access.client_id, tenant_id) not in sandbox.state.connections:
            raise ApiError(403, "AuthenticationUnsuccessful")
        if not ({scope, f"{scope}.read"} & set(access.scopes)):
            raise ApiError(401, "AuthorizationUnsuccessful")
        if "application/json" not in (accept or ""):
            raise ApiError(406, "The sandbox answers JSON only; Xero would answer XML")
        sandbox.admit(tenant_id)
        return _Caller(access.client_id, tenant_id)

    return caller


ContactsCaller = Annotated[_Caller, Depends(_scoped(CONTACTS_SCOPE))]
InvoicesCaller = Annotated[_Caller, Depends(_scoped(INVOICES_SCOPE))]
SettingsCaller = Annotated[_Caller, Depends(_scoped(SETTINGS_SCOPE))]
Listing = Annotated[_Listing, Depends(_listing)]
IdempotencyKey = Annotated[str | None, Header()]
