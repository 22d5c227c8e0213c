"""Which integrations take an entry: the guide's sync direction, per integration.

A home-system (Core) entry goes to every tracker integration of its workspace that syncs Core to
the tracker; a tracker entry comes back to Core only through the integration that observed it, and
only if that integration syncs the tracker to Core. An integration set one way therefore never
echoes the other side's entries back (the guide's "Set clear sync direction" against duplicates).

Which provider is which is read from the registry's profiles, never from a name: mapping maps the
integrations of trackers whose directory it can read (users, projects, tasks).
"""

from collections.abc import Sequence

from timebridge_providers.installed import registry
from timebridge_providers.kit.registry import Registry

from timebridge_common.events import ConnectionChanged, IntegrationSettings


def settings_of(integration: ConnectionChanged) -> IntegrationSettings:
    return integration.settings or IntegrationSettings()


def is_home(source: str, providers: Registry | None = None) -> bool:
    """Whether ``source`` is the home system (Core), the hub every tracker syncs with."""
    providers = providers or registry()
    return source in providers and providers.get(source).profile.kind == "home"


def home(providers: Registry | None = None) -> str:
    """The home system's name (the source of its entries, the provider of its connection)."""
    return (providers or registry()).home().name


def mapped(provider: str, providers: Registry | None = None) -> bool:
    """Whether mapping maps an integration with ``provider``: a tracker offering a directory."""
    providers = providers or registry()
    if provider not in providers:
        return False
    found = providers.get(provider)
    return found.profile.kind == "tracker" and found.offers("directory")


def takes(settings: IntegrationSettings, source: str, providers: Registry | None = None) -> bool:
    """Whether an integration with ``settings`` syncs entries whose source is ``source``."""
    if is_home(source, providers):
        return settings.direction in {"core_to_tracker", "two_way"}
    return settings.direction in {"tracker_to_core", "two_way"}


def integrations_for(
    source: str,
    integration_id: str | None,
    connected: Sequence[ConnectionChanged],
    providers: Registry | None = None,
) -> list[ConnectionChanged]:
    """The connected integrations an entry from ``source`` (seen by ``integration_id``) goes to."""
    trackers = [c for c in connected if mapped(c.provider, providers)]
    if is_home(source, providers):
        candidates = trackers
    else:
        candidates = [
            c for c in trackers if c.connection_id == integration_id and c.provider == source
        ]
    return [c for c in candidates if takes(settings_of(c), source, providers)]


def target_of(
    integration: ConnectionChanged, source: str, providers: Registry | None = None
) -> str:
    """The system an entry from ``source`` is written to through ``integration``."""
    return integration.provider if is_home(source, providers) else home(providers)
