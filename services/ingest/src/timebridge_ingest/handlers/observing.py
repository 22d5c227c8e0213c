"""Opening a connection's Observe capability, chosen by the provider name it carries."""

from collections.abc import Mapping

from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.observe import Observer
from timebridge_providers.kit.session import Access

from timebridge_ingest.handlers.ports import Observers, Sessions


class NotObservableError(LookupError):
    """The provider offers no observe capability (its changes cannot be taken)."""


def open_observer(
    sessions: Sessions,
    provider: str,
    base_url: str,
    credential: str,
    extra: Mapping[str, str] | None = None,
) -> Observer:
    """``extra``: the connection's fields (an account id), handed to the session."""
    found = registry().get(provider)
    if found.observe is None:
        raise NotObservableError(f"{found.profile.title} offers no way to observe its changes")
    access = Access(base_url, credential, dict(extra or {}))
    return found.observe(sessions.session(provider, access))


def observers(sessions: Sessions) -> Observers:
    """The production :data:`Observers`: the registry's capability on ``sessions``."""
    return lambda provider, base_url, credential, extra: open_observer(
        sessions, provider, base_url, credential, extra
    )
