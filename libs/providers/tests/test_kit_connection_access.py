"""A connection copy's access: the owner's when configured, else the sealed credential opened."""

import pytest
from timebridge_providers.kit.connection_access import ConnectionAccess
from timebridge_providers.kit.credentials import FakeCredentialSource, NeedsReauthorisationError
from timebridge_providers.kit.session import Access

from timebridge_common.crypto import DecryptionError
from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import ConnectionChanged
from timebridge_common.testing import sample_connection_changed

COPY = sample_connection_changed(
    workspace_id="acme", connection_id="int_1", base_url="http://copy.test"
).model_copy(update={"extra": {"account_id": "7"}})


def _unseal(connection: ConnectionChanged) -> str:
    return f"sealed-{connection.connection_id}"


async def test_the_owners_access_when_there_is_an_owner() -> None:
    owner = FakeCredentialSource()
    owner.put("acme", "int_1", "rotated-at", base_url="http://owner.test", extra={"a": "1"})
    access = await ConnectionAccess(owner, _unseal)(COPY)
    assert access == Access("http://owner.test", "rotated-at", {"a": "1"})
    owner.fail("acme", "int_1", NeedsReauthorisationError("refresh token refused"))
    with pytest.raises(NeedsReauthorisationError):
        await ConnectionAccess(owner, _unseal)(COPY)


async def test_without_an_owner_the_sealed_credential_with_the_connection_fields() -> None:
    access = await ConnectionAccess(None, _unseal)(COPY)
    assert access == Access("http://copy.test", "sealed-int_1", {"account_id": "7"})


async def test_a_credential_that_does_not_open_here_is_invalid() -> None:
    def wrong_key(connection: ConnectionChanged) -> str:
        raise DecryptionError("tag mismatch")

    with pytest.raises(InvalidMessageError, match="do not decrypt with this service's key"):
        await ConnectionAccess(None, wrong_key)(COPY)
