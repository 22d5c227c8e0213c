"""Which providers mapping maps and what the providers API says of each: read from profiles."""

from timebridge_providers.kit.fakes.directory import FakeDirectory
from timebridge_providers.kit.profile import Kind, Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider, Registry
from timebridge_providers.kit.session import Session

from timebridge_common.testing import sample_connection_changed
from timebridge_mapping.domain.direction import integrations_for, is_home, mapped, target_of
from timebridge_mapping.domain.providers import directions, facts


async def _check(session: Session) -> Account:
    return Account("me")


def provider(
    name: str,
    kind: Kind = "tracker",
    *,
    directory: bool = True,
    writable: bool = True,
    not_writable_reason: str = "",
) -> Provider:
    profile = Profile(
        name=name,
        title=name.title(),
        kind=kind,
        rate_limit=RateLimit(1, 1),
        writable=writable,
        not_writable_reason=not_writable_reason,
    )
    return Provider(
        profile=profile,
        check=_check,
        directory=(lambda s: FakeDirectory(name)) if directory else None,
    )


HUB = provider("hub", "home")
PUNCH = provider("punch")
READER = provider("reader", writable=False, not_writable_reason="its API is read-only")
BLIND = provider("blind", directory=False)
BOOKS = provider("books", "accounting", directory=False)
PROVIDERS = Registry([HUB, PUNCH, READER, BLIND, BOOKS])


def test_mapping_maps_trackers_with_a_directory_and_the_home_is_read_from_the_profile() -> None:
    assert [p.name for p in PROVIDERS if mapped(p.name, PROVIDERS)] == ["punch", "reader"]
    assert is_home("hub", PROVIDERS)
    assert not is_home("punch", PROVIDERS)
    assert not mapped("not-installed", PROVIDERS)


def test_a_home_entry_goes_to_mapped_tracker_integrations_only() -> None:
    connected = [
        sample_connection_changed(connection_id=f"int_{name}", provider=name)
        for name in ("hub", "punch", "blind", "books", "gone")
    ]
    found = integrations_for("hub", None, connected, PROVIDERS)
    assert [c.connection_id for c in found] == ["int_punch"]
    assert target_of(found[0], "hub", PROVIDERS) == "punch"
    assert target_of(found[0], "punch", PROVIDERS) == "hub"


def test_a_read_only_tracker_allows_only_the_direction_into_core_and_says_why() -> None:
    assert [(d.direction, d.allowed, d.why_not) for d in directions(READER)] == [
        ("two_way", False, "its API is read-only"),
        ("core_to_tracker", False, "its API is read-only"),
        ("tracker_to_core", True, None),
    ]
    assert all(d.allowed for d in directions(PUNCH))
    assert directions(HUB) == ()
    assert directions(BOOKS) == ()


def test_the_facts_come_from_the_profile() -> None:
    described = facts(PUNCH, PROVIDERS)
    assert (described.name, described.title, described.kind) == ("punch", "Punch", "tracker")
    assert described.capabilities == ("directory",)
    assert described.changes == "polling"
    assert described.mapped
    assert not facts(BLIND, PROVIDERS).mapped
