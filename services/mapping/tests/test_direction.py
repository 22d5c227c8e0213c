"""Which integrations take an entry, by each integration's sync direction."""

from timebridge_common.events import ConnectionChanged, IntegrationSettings
from timebridge_common.testing import sample_connection_changed
from timebridge_mapping.domain.direction import integrations_for, target_of


def integration(connection_id: str, direction: str) -> ConnectionChanged:
    return sample_connection_changed(
        connection_id=connection_id,
        settings=IntegrationSettings.model_validate({"direction": direction}),
    )


CORE_TO = integration("int_a", "core_to_tracker")
TRACKER_TO = integration("int_b", "tracker_to_core")
TWO_WAY = integration("int_c", "two_way")
CONNECTED = [CORE_TO, TRACKER_TO, TWO_WAY]


def ids(found: list[ConnectionChanged]) -> list[str]:
    return [c.connection_id for c in found]


def test_a_core_entry_goes_to_every_integration_syncing_core_to_the_tracker() -> None:
    assert ids(integrations_for("core", None, CONNECTED)) == ["int_a", "int_c"]


def test_a_tracker_entry_comes_back_only_through_its_own_integration() -> None:
    assert ids(integrations_for("everhour", "int_b", CONNECTED)) == ["int_b"]
    assert ids(integrations_for("everhour", "int_c", CONNECTED)) == ["int_c"]
    assert integrations_for("everhour", "int_a", CONNECTED) == []
    assert integrations_for("everhour", "int_unknown", CONNECTED) == []
    assert integrations_for("harvest", "int_c", CONNECTED) == []


def test_the_target_is_the_other_side() -> None:
    assert (target_of(TWO_WAY, "core"), target_of(TWO_WAY, "everhour")) == ("everhour", "core")
