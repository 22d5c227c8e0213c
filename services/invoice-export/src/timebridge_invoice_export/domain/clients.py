"""The client mirror: customers of the accounting tools, kept as the tools have them.

The accounting article: all active clients are mirrored on connect ("with an icon indicating the
tool they were taken from"), only basic details (name, business address, tax details), changes
made in the tool later are picked up, and "external clients can't be deleted, only archived".
So a mirrored client is archived when the tool archives (or deletes) it, or when an admin
archives it in Timebridge; it is never deleted. The tool stays the authority for its fields: an
admin's archive in Timebridge survives later changes from the tool, nothing else is edited here.
"""

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import Literal

from timebridge_invoice_export.domain.accounting import Address, TaxDetails, ToolClient

_CLIENT_NAMESPACE = uuid.UUID("0d7c3c0e-5b5e-4d38-9d0f-6a1e2b3c4d5e")


def client_id(connection_id: str, external_id: str) -> str:
    """The same client id whoever mirrors it first (the poll or a webhook)."""
    return "cl_" + uuid.uuid5(_CLIENT_NAMESPACE, f"{connection_id}:{external_id}").hex[:20]


@dataclass(frozen=True, slots=True)
class MirroredClient:
    client_id: str
    workspace_id: str
    connection_id: str
    provider: str
    external_id: str
    name: str
    email: str | None
    address: Address | None
    tax: TaxDetails
    currency: str | None
    active_in_tool: bool
    archived_in_timebridge: bool
    source_updated_at: dt.datetime | None
    revision: int

    @property
    def status(self) -> Literal["active", "archived"]:
        return "active" if self.active_in_tool and not self.archived_in_timebridge else "archived"

    @property
    def archived_by(self) -> Literal["tool", "timebridge"] | None:
        if not self.active_in_tool:
            return "tool"
        return "timebridge" if self.archived_in_timebridge else None


def mirror(
    existing: MirroredClient | None,
    seen: ToolClient,
    *,
    workspace_id: str,
    connection_id: str,
    provider: str,
) -> MirroredClient | None:
    """The client after the tool's ``seen`` version, or None if that changes nothing (the same
    fields, or a version older than the one held: a late poll never undoes a webhook's read)."""
    if (
        existing is not None
        and existing.source_updated_at is not None
        and seen.updated_at is not None
        and seen.updated_at < existing.source_updated_at
    ):
        return None
    if existing is None:
        return MirroredClient(
            client_id=client_id(connection_id, seen.external_id),
            workspace_id=workspace_id,
            connection_id=connection_id,
            provider=provider,
            external_id=seen.external_id,
            name=seen.name,
            email=seen.email,
            address=seen.address,
            tax=seen.tax,
            currency=seen.currency,
            active_in_tool=seen.active,
            archived_in_timebridge=False,
            source_updated_at=seen.updated_at,
            revision=1,
        )
    updated = replace(
        existing,
        name=seen.name,
        email=seen.email,
        address=seen.address,
        tax=seen.tax,
        currency=seen.currency,
        active_in_tool=seen.active,
    )
    if updated == existing:
        return None
    return replace(
        updated,
        source_updated_at=seen.updated_at or existing.source_updated_at,
        revision=existing.revision + 1,
    )


def archived(existing: MirroredClient, archive: bool) -> MirroredClient | None:
    """An admin's archive (or unarchive) in Timebridge; None when it is already so."""
    if existing.archived_in_timebridge == archive:
        return None
    return replace(existing, archived_in_timebridge=archive, revision=existing.revision + 1)
