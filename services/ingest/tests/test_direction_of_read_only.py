"""A tracker whose entries cannot be written is connected only as tracker_to_core: any other
direction is refused at connect and at a settings change, with the provider's reason (it used to
be accepted, and every write then failed in the resolver)."""

import pytest
from timebridge_providers.installed import registry

from timebridge_common.events import IntegrationSettings
from timebridge_ingest.domain.connections import check_direction
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.connections import Connections

READ_ONLY = [n for n in registry().names("tracker") if not registry().get(n).profile.writable]
WRITABLE = [n for n in registry().names("tracker") if registry().get(n).profile.writable]


def test_some_installed_tracker_is_read_only() -> None:
    assert READ_ONLY, "the check below would test nothing"


@pytest.mark.parametrize("provider", READ_ONLY)
@pytest.mark.parametrize("direction", ["two_way", "core_to_tracker"])
def test_a_read_only_tracker_refuses_a_direction_that_writes_to_it(
    provider: str, direction: str
) -> None:
    profile = registry().get(provider).profile
    with pytest.raises(RejectedError) as refused:
        Connections._check_direction(provider, IntegrationSettings(direction=direction))
    assert refused.value.status == 422
    assert profile.not_writable_reason in refused.value.reason
    assert "tracker_to_core" in refused.value.reason


@pytest.mark.parametrize("provider", READ_ONLY)
def test_a_read_only_tracker_takes_its_changes_to_core(provider: str) -> None:
    Connections._check_direction(provider, IntegrationSettings(direction="tracker_to_core"))


@pytest.mark.parametrize("provider", WRITABLE)
def test_a_writable_tracker_takes_every_direction(provider: str) -> None:
    for direction in ("two_way", "core_to_tracker", "tracker_to_core"):
        Connections._check_direction(provider, IntegrationSettings(direction=direction))


def test_the_reason_defaults_when_a_profile_gives_none() -> None:
    with pytest.raises(RejectedError, match=r"\(read-only\)"):
        check_direction(
            IntegrationSettings(direction="two_way"), writable=False, reason="", title="T"
        )
