"""The registry: the installed providers by name, each with its profile and capabilities.

Services reach a provider only through here: they look one up by the name an integration or
event carries, read its profile, and open the capabilities it offers. A provider lacking a
capability has ``None`` there; callers check ``offers()`` and say why when it is missing.
"""

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from timebridge_providers.kit.credentials import OAuthDescription
from timebridge_providers.kit.ports.accounting import AccountingTool
from timebridge_providers.kit.ports.commercial import CommercialSource
from timebridge_providers.kit.ports.directory import Directory
from timebridge_providers.kit.ports.entries import EntryStore
from timebridge_providers.kit.ports.observe import Observer
from timebridge_providers.kit.ports.report import ProviderReport
from timebridge_providers.kit.ports.time_off import TimeOffSource
from timebridge_providers.kit.profile import Kind, Profile
from timebridge_providers.kit.session import Session

Capability = Literal["entries", "observe", "directory", "report", "accounting", "time_off"]


@dataclass(frozen=True, slots=True)
class Account:
    """Who a credential acts as: the answer of a connection test."""

    external_id: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Provider:
    """One installed provider: its profile and a factory per capability it offers."""

    profile: Profile
    check: Callable[[Session], Awaitable[Account]]
    """Test a credential: who it acts as, or ``AuthenticationError``."""
    entries: Callable[[Session], EntryStore] | None = None
    observe: Callable[[Session], Observer] | None = None
    directory: Callable[[Session], Directory] | None = None
    report: Callable[[Session], ProviderReport] | None = None
    accounting: Callable[[Session], AccountingTool] | None = None
    time_off: Callable[[Session], TimeOffSource] | None = None
    """An HR system's time off (``kit/ports/time_off.py``)."""
    commercial: Callable[[Session], CommercialSource] | None = None
    """The home system's contracts by polling (``kit/ports/commercial.py``)."""
    oauth: OAuthDescription | None = None
    """How the credential owner refreshes this provider's OAuth tokens; ``None`` for API keys."""

    @property
    def name(self) -> str:
        return self.profile.name

    def offers(self, capability: Capability) -> bool:
        return getattr(self, capability) is not None


class UnknownProviderError(LookupError):
    """No installed provider has this name."""


class Registry:
    """The installed providers, by name."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self._by_name: dict[str, Provider] = {}
        for provider in providers:
            if provider.name in self._by_name:
                raise ValueError(f"provider {provider.name!r} is registered twice")
            self._by_name[provider.name] = provider

    def get(self, name: str) -> Provider:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownProviderError(f"no provider {name!r} is installed") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._by_name.values())

    def names(self, kind: Kind | None = None) -> frozenset[str]:
        return frozenset(p.name for p in self if kind is None or p.profile.kind == kind)

    def offering(self, capability: Capability, kind: Kind | None = None) -> list[Provider]:
        return [
            p for p in self if p.offers(capability) and (kind is None or p.profile.kind == kind)
        ]

    def home(self) -> Provider:
        """The home system (Core): the hub every tracker syncs with, and the identity source."""
        homes = [p for p in self if p.profile.kind == "home"]
        if len(homes) != 1:
            raise RuntimeError(f"expected exactly one home provider, found {len(homes)}")
        return homes[0]
