"""Opening a connection's Observe capability, chosen by the provider name it carries."""

from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.observe import Observer
from timebridge_providers.kit.session import Access

from timebridge_ingest.handlers.ports import Observers, Sessions


class NotObservableError(LookupError):
    """The provider offers no observe capability (its changes cannot be taken)."""


def open_observer(sessions: Sessions, provider: str, base_url: str, credential: str) -> Observer:
    found = registry().get(provider)
    if found.observe is None:
        raise NotObservableError(f"{found.profile.title} offers no way to observe its changes")
    return found.observe(sessions.session(provider, Access(base_url, credential)))


def observers(sessions: Sessions) -> Observers:
    """The production :data:`Observers`: the registry's capability on ``sessions``."""
    return lambda provider, base_url, credential: open_observer(
        sessions, provider, base_url, credential
    )
