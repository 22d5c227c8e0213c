"""invoice-export reads Core's projects with the Core token the credential owner hands out, not
with a copy of its own (the connection copy carries no usable secret)."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from timebridge_providers.kit.connection_access import ConnectionAccess
from timebridge_providers.kit.credentials import NeedsReauthorisationError
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource

from timebridge_common.events import ConnectionChanged
from timebridge_common.testing import sample_connection_changed
from timebridge_invoice_export.adapters.core import CoreDirectory
from timebridge_invoice_export.handlers.billing import CoreProject

CORE = sample_connection_changed(
    workspace_id="acme", connection_id="core_acme", provider="core", base_url="http://copy.test"
)


class Copies:
    async def connected(self, workspace_id: str, provider: str) -> list[ConnectionChanged]:
        return [CORE] if (workspace_id, provider) == ("acme", "core") else []


@dataclass
class Project:
    id: str
    name: str
    archived: bool = False


class Core:
    def __init__(self) -> None:
        self.opened: list[tuple[str, str]] = []

    @contextlib.asynccontextmanager
    async def __call__(self, base_url: str, token: str) -> AsyncIterator[Any]:
        self.opened.append((base_url, token))
        yield self

    async def projects(self) -> AsyncIterator[Project]:
        yield Project("p_1", "Website")


def _directory(owner: FakeCredentialSource, core: Core) -> CoreDirectory:
    return CoreDirectory(cast(Any, Copies()), cast(Any, core), ConnectionAccess(owner))


async def test_projects_are_read_with_the_owners_core_token() -> None:
    owner, core = FakeCredentialSource(), Core()
    owner.put("acme", "core_acme", "core-token-from-owner", base_url="http://core.test")
    projects = await _directory(owner, core).projects("acme")
    assert projects == [CoreProject("p_1", "Website", False)]
    assert core.opened == [("http://core.test", "core-token-from-owner")]


async def test_a_core_token_needing_re_authorisation_is_not_read_around() -> None:
    owner, core = FakeCredentialSource(), Core()
    owner.fail("acme", "core_acme", NeedsReauthorisationError("revoked"))
    with pytest.raises(NeedsReauthorisationError):
        await _directory(owner, core).projects("acme")
    assert core.opened == []
