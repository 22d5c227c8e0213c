"""Which integrations take an entry: the guide's sync direction, per integration.

A Core entry goes to every tracker integration of its workspace that syncs Core to the tracker;
a tracker entry comes back to Core only through the integration that observed it, and only if
that integration syncs the tracker to Core. An integration set one way therefore never echoes the
other side's entries back (the guide's "Set clear sync direction" against duplicates).
"""

from collections.abc import Sequence

from timebridge_common.events import ConnectionChanged, IntegrationSettings

CORE = "core"
TRACKER = "everhour"
"""The tracker mapping has clients for; other trackers' integrations are not mapped (yet)."""


def settings_of(integration: ConnectionChanged) -> IntegrationSettings:
    return integration.settings or IntegrationSettings()


def takes(settings: IntegrationSettings, source: str) -> bool:
    """Whether an integration with ``settings`` syncs entries whose source is ``source``."""
    if source == CORE:
        return settings.direction in {"core_to_tracker", "two_way"}
    return settings.direction in {"tracker_to_core", "two_way"}


def integrations_for(
    source: str, integration_id: str | None, connected: Sequence[ConnectionChanged]
) -> list[ConnectionChanged]:
    """The connected integrations an entry from ``source`` (seen by ``integration_id``) goes to."""
    if source == CORE:
        candidates = list(connected)
    else:
        candidates = [
            c for c in connected if c.connection_id == integration_id and c.provider == source
        ]
    return [c for c in candidates if takes(settings_of(c), source)]


def target_of(integration: ConnectionChanged, source: str) -> str:
    """The system an entry from ``source`` is written to through ``integration``."""
    return integration.provider if source == CORE else CORE
