"""The conflict-resolver's ``entries=`` on clients a test builds itself (sandboxes on fake time,
transports that lose answers): each system's records through the provider package's opener."""

from collections.abc import Callable

from timebridge_providers.core.client import CoreClient
from timebridge_providers.core.entries import opener as core_opener
from timebridge_providers.everhour.client import EverhourClient
from timebridge_providers.everhour.entries import opener as everhour_opener

from timebridge_conflict_resolver.adapters.entry_stores import OpenedBy


def on_clients(
    everhour: Callable[[str, str], EverhourClient], core: Callable[[str, str], CoreClient]
) -> OpenedBy:
    """Records of both systems on clients from the test's factories (base URL, credential)."""
    return OpenedBy({"everhour": everhour_opener(everhour), "core": core_opener(core)})
