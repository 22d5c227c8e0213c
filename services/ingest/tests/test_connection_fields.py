"""The provider's connection fields (an account id) are checked against its profile."""

import pytest
from timebridge_providers.installed import registry

from timebridge_ingest.domain.connections import check_connection_fields
from timebridge_ingest.domain.errors import RejectedError

WANTED = {"account_id": "Account ID"}


def test_the_fields_the_profile_names_are_kept() -> None:
    assert check_connection_fields(WANTED, {"account_id": "123456"}, "T") == {
        "account_id": "123456"
    }


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({}, "needs the connection field account_id (Account ID)"),
        ({"account_id": ""}, "needs the connection field account_id"),
        ({"account_id": "1", "acount": "2"}, "takes no connection field acount"),
        ({"account_id": " 1"}, "printable"),
        ({"account_id": "1\n2"}, "printable"),
        ({"account_id": "x" * 201}, "printable"),
    ],
)
def test_missing_unknown_or_unprintable_fields_are_refused(
    given: dict[str, str], reason: str
) -> None:
    with pytest.raises(RejectedError) as refused:
        check_connection_fields(WANTED, given, "T")
    assert refused.value.status == 422
    assert reason in refused.value.reason


def test_a_provider_without_connection_fields_refuses_any() -> None:
    with pytest.raises(RejectedError, match=r"expected: none"):
        check_connection_fields({}, {"account_id": "1"}, "T")


def test_every_installed_trackers_fields_are_checkable() -> None:
    """A profile's connection fields are what the API asks for: a value for each passes."""
    for name in registry().names("tracker"):
        wanted = registry().get(name).profile.connection_fields
        given = {key: "Europe/Berlin" for key in wanted}
        assert check_connection_fields(wanted, given, name) == given
