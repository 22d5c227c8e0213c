"""An observed change as the ``TimeEntryLogged`` event every consumer reads."""

from typing import Literal

from timebridge_providers.kit.ports.observe import Change

from timebridge_common.events import TimeEntryLogged


def to_event(
    change: Change,
    *,
    source: str,
    workspace_id: str,
    integration_id: str | None,
    observed_via: Literal["webhook", "poll"],
) -> TimeEntryLogged:
    """``integration_id`` is ``None`` for the home system (its changes concern every one)."""
    return TimeEntryLogged(
        workspace_id=workspace_id,
        integration_id=integration_id,
        source=source,
        external_id=change.external_id,
        entry=change.fields,
        updated_at=change.updated_at,
        deleted=change.deleted,
        observed_via=observed_via,
    )
