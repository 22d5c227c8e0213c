"""The installed providers as the console and other clients see them: what each is, offers and
allows, read from the registry's profiles (so a new provider shows up without a client change).

A direction an integration may be set to is allowed or not with the reason: a tracker whose
entries cannot be written (its profile says why) only syncs into Core.
"""

from dataclasses import dataclass
from typing import Literal

from timebridge_providers.kit.profile import ALL_FIELDS
from timebridge_providers.kit.registry import Capability, Provider, Registry

from timebridge_mapping.domain.direction import mapped

Direction = Literal["two_way", "core_to_tracker", "tracker_to_core"]
CAPABILITIES: tuple[Capability, ...] = (
    "observe",
    "entries",
    "directory",
    "report",
    "accounting",
    "time_off",
)
_DIRECTIONS: tuple[Direction, ...] = ("two_way", "core_to_tracker", "tracker_to_core")


@dataclass(frozen=True, slots=True)
class DirectionChoice:
    direction: Direction
    allowed: bool
    why_not: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderFacts:
    name: str
    title: str
    kind: str
    auth: str
    capabilities: tuple[str, ...]
    directions: tuple[DirectionChoice, ...]
    changes: Literal["webhooks", "polling"]
    units: str
    granularity: str
    billable: str
    requires_task: bool
    mapped: bool
    """Mapping maps its integrations (a tracker offering a directory)."""
    kept_fields: tuple[str, ...]
    """The entry fields a record keeps; the others cannot differ there (no start time, ...)."""
    writable_fields: tuple[str, ...]
    connection_fields: dict[str, str]
    """What an admin enters to connect besides the credential: key -> label (an account id)."""
    docs_url: str


def directions(provider: Provider) -> tuple[DirectionChoice, ...]:
    """The sync directions of a tracker's integration, each allowed or not with the reason."""
    profile = provider.profile
    if profile.kind != "tracker":
        return ()
    why = profile.not_writable_reason or f"{profile.title} entries cannot be written"
    return tuple(
        DirectionChoice(d, True)
        if profile.writable or d == "tracker_to_core"
        else DirectionChoice(d, False, why)
        for d in _DIRECTIONS
    )


def facts(provider: Provider, providers: Registry | None = None) -> ProviderFacts:
    p = provider.profile
    return ProviderFacts(
        name=p.name,
        title=p.title,
        kind=p.kind,
        auth=p.auth,
        capabilities=tuple(c for c in CAPABILITIES if provider.offers(c)),
        directions=directions(provider),
        changes="webhooks" if p.webhooks else "polling",
        units=p.units,
        granularity=p.granularity,
        billable=p.billable,
        requires_task=p.requires_task,
        mapped=mapped(p.name, providers),
        kept_fields=tuple(sorted(p.kept_fields & ALL_FIELDS)),
        writable_fields=tuple(sorted(p.writable_fields & ALL_FIELDS)),
        connection_fields=dict(p.connection_fields),
        docs_url=p.docs_url,
    )
