"""An in-memory credential owner for unit tests (the :class:`CredentialSource` port's fake)."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from timebridge_common.outbound.oauth import Tokens
from timebridge_providers.kit.credentials import UnknownCredentialError
from timebridge_providers.kit.session import Access


@dataclass
class FakeCredentialSource:
    """An in-memory :class:`CredentialSource` for unit tests: set accesses or failures per
    connection; ``calls`` records every request in order, ``refusals`` every reported refusal."""

    accesses: dict[tuple[str, str], Access | Exception] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    refusals: list[tuple[str, str, str]] = field(default_factory=list)
    tokens: dict[tuple[str, str], Tokens] = field(default_factory=dict)
    """The OAuth tokens handed over with :meth:`put_tokens`, by connection."""
    providers: dict[tuple[str, str], str] = field(default_factory=dict)

    def put(
        self,
        workspace_id: str,
        connection_id: str,
        credential: str,
        *,
        base_url: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> None:
        access = Access(base_url, credential, dict(extra or {}))
        self.accesses[(workspace_id, connection_id)] = access

    def fail(self, workspace_id: str, connection_id: str, error: Exception) -> None:
        self.accesses[(workspace_id, connection_id)] = error

    async def access(self, workspace_id: str, connection_id: str) -> Access:
        self.calls.append((workspace_id, connection_id))
        found = self.accesses.get((workspace_id, connection_id))
        if found is None:
            raise UnknownCredentialError(f"no credential for {workspace_id}/{connection_id}")
        if isinstance(found, Exception):
            raise found
        return found

    async def refused(self, workspace_id: str, connection_id: str, reason: str) -> None:
        if (workspace_id, connection_id) not in self.accesses:
            raise UnknownCredentialError(f"no credential for {workspace_id}/{connection_id}")
        self.refusals.append((workspace_id, connection_id, reason))

    async def put_tokens(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        tokens: Tokens,
        *,
        base_url: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> None:
        self.tokens[(workspace_id, connection_id)] = tokens
        self.providers[(workspace_id, connection_id)] = provider
        self.put(workspace_id, connection_id, tokens.access_token, base_url=base_url, extra=extra)

    async def put_key(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        key: str,
        *,
        base_url: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> None:
        self.tokens.pop((workspace_id, connection_id), None)
        self.providers[(workspace_id, connection_id)] = provider
        self.put(workspace_id, connection_id, key, base_url=base_url, extra=extra)

    async def move(self, workspace_id: str, connection_id: str, to: str) -> None:
        key, target = (workspace_id, connection_id), (workspace_id, to)
        if key not in self.accesses:
            if target in self.accesses:  # moved already (a retry)
                return
            raise UnknownCredentialError(f"no credential for {workspace_id}/{connection_id}")
        self.accesses[target] = self.accesses.pop(key)
        if key in self.tokens:
            self.tokens[target] = self.tokens.pop(key)
            self.providers[target] = self.providers.pop(key)

    async def delete(self, workspace_id: str, connection_id: str) -> None:
        self.accesses.pop((workspace_id, connection_id), None)
        self.tokens.pop((workspace_id, connection_id), None)
        self.providers.pop((workspace_id, connection_id), None)
