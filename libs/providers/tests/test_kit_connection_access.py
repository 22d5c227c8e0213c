"""A connection copy's access is the owner's, whatever the copy says; services need the owner."""

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from timebridge_providers.kit.connection_access import ConnectionAccess
from timebridge_providers.kit.credentials import (
    NeedsReauthorisationError,
    OwnerSettings,
    UnknownCredentialError,
)
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource
from timebridge_providers.kit.session import Access

from timebridge_common.events.connections import upcast_v1
from timebridge_common.outbound.http import AuthenticationError
from timebridge_common.testing import sample_connection_changed, sample_connection_changed_v1

COPY = sample_connection_changed(
    workspace_id="acme", connection_id="int_1", base_url="http://copy.test"
).model_copy(update={"extra": {"account_id": "7"}})


async def test_the_owners_access_not_the_copys() -> None:
    owner = FakeCredentialSource()
    owner.put("acme", "int_1", "rotated-at", base_url="http://owner.test", extra={"a": "1"})
    access = await ConnectionAccess(owner)(COPY)
    assert access == Access("http://owner.test", "rotated-at", {"a": "1"})
    owner.fail("acme", "int_1", NeedsReauthorisationError("refresh token refused"))
    with pytest.raises(NeedsReauthorisationError):
        await ConnectionAccess(owner)(COPY)


async def test_a_connection_the_owner_does_not_hold_is_unknown_even_from_a_sealed_v1() -> None:
    """A v1 record's sealed credential is dropped by the upcaster: there is no fallback."""
    old = sample_connection_changed_v1(workspace_id="acme", connection_id="int_1")
    assert old.credentials_encrypted is not None
    copy = upcast_v1(old)
    assert "credentials_encrypted" not in copy.model_dump()
    with pytest.raises(UnknownCredentialError):
        await ConnectionAccess(FakeCredentialSource())(copy)


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({}, "TB_CREDENTIALS_URL and TB_SERVICE_TOKEN must be set"),
        ({"credentials_url": "http://owner"}, "TB_SERVICE_TOKEN must be set"),
        ({"service_token": SecretStr("t")}, "TB_CREDENTIALS_URL must be set"),
        ({"credentials_url": " ", "service_token": SecretStr("t")}, "TB_CREDENTIALS_URL must"),
    ],
)
def test_a_service_without_the_owner_configured_refuses_to_start(
    given: dict[str, object], missing: str
) -> None:
    with pytest.raises(ValidationError, match=missing):
        OwnerSettings.model_validate(given)


async def test_the_configured_owner_is_asked_with_the_service_token() -> None:
    seen: list[tuple[str, str | None]] = []

    def owner(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        return httpx.Response(200, json={"credential": "k", "base_url": "http://t"})

    settings = OwnerSettings(credentials_url="http://owner", service_token=SecretStr("t"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(owner)) as http:
        access = await ConnectionAccess(settings.credential_source(http))(COPY)
    assert access == Access("http://t", "k", {})
    assert seen == [
        ("http://owner/v1/workspaces/acme/connections/int_1/access", "Bearer t"),
    ]


class _Port:
    """A capability whose provider refuses: ``status`` for every call."""

    def __init__(self, status: int) -> None:
        self.status = status

    async def read(self, record: str) -> str:
        raise AuthenticationError("tracker-x", "GET", f"/records/{record}", self.status, "no")

    async def projects(self) -> AsyncIterator[str]:
        yield "p_1"
        raise AuthenticationError("tracker-x", "GET", "/projects", self.status, "no")

    def name(self) -> str:
        return "plain"


async def test_a_401_from_the_provider_is_reported_to_the_owner_and_still_raised() -> None:
    owner = FakeCredentialSource()
    owner.put("acme", "int_1", "revoked-key")
    port = ConnectionAccess(owner).reporting(COPY, _Port(401))
    with pytest.raises(AuthenticationError):
        await port.read("r1")
    with pytest.raises(AuthenticationError):
        _ = [p async for p in port.projects()]
    assert port.name() == "plain"
    assert owner.refusals == [
        ("acme", "int_1", "tracker-x answered 401 to GET /records/r1"),
        ("acme", "int_1", "tracker-x answered 401 to GET /projects"),
    ]


async def test_a_403_is_a_missing_permission_not_a_refused_credential() -> None:
    owner = FakeCredentialSource()
    owner.put("acme", "int_1", "key")
    with pytest.raises(AuthenticationError):
        await ConnectionAccess(owner).reporting(COPY, _Port(403)).read("r1")
    assert owner.refusals == []


async def test_the_owner_unavailable_does_not_hide_the_providers_answer() -> None:
    owner = FakeCredentialSource()  # holds nothing: reporting fails as unknown
    with pytest.raises(AuthenticationError):
        await ConnectionAccess(owner).reporting(COPY, _Port(401)).read("r1")
