"""In-memory fakes of the credential owner's ports, for fast handler tests.

:class:`InMemoryCredentialStore` behaves like the Postgres store where it matters: ``locked``
serialises callers per connection (the row lock), and what a slot saves is kept only when the
context exits normally (the transaction commits), never when it raises.
"""

import asyncio
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from timebridge_providers.installed import registry as installed_registry
from timebridge_providers.kit.credentials import OAuthDescription
from timebridge_providers.kit.oauth import Consented
from timebridge_providers.kit.profile import Auth, Kind, Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider, Registry
from timebridge_providers.kit.session import Session

from timebridge_common.errors import TransientError
from timebridge_common.outbound.oauth import ReauthorizationNeededError, Tokens
from timebridge_common.refusals import InvalidError
from timebridge_credentials.domain.credentials import (
    NewCredential,
    State,
    Status,
    StoredCredential,
)

Key = tuple[str, str]


class InMemoryCredentialStore:
    def __init__(self) -> None:
        self.rows: dict[Key, StoredCredential] = {}
        self._locks: dict[Key, asyncio.Lock] = {}

    async def get(self, workspace_id: str, connection_id: str) -> StoredCredential | None:
        return self.rows.get((workspace_id, connection_id))

    @asynccontextmanager
    async def locked(
        self, workspace_id: str, connection_id: str
    ) -> AsyncIterator["FakeSlot | None"]:
        key = (workspace_id, connection_id)
        async with self._locks.setdefault(key, asyncio.Lock()):
            found = self.rows.get(key)
            if found is None:
                yield None
                return
            slot = FakeSlot(found)
            yield slot
            if key in self.rows:  # commit
                self.rows[key] = slot.credential

    async def put(self, new: NewCredential, now: dt.datetime) -> Status:
        key = (new.workspace_id, new.connection_id)
        old = self.rows.get(key)
        expires_at = None if new.kind == "api_key" else getattr(new.secret, "expires_at", None)
        status = Status(
            workspace_id=new.workspace_id,
            connection_id=new.connection_id,
            provider=new.provider,
            kind=new.kind,
            state="ok",
            revision=1 if old is None else old.status.revision + 1,
            updated_at=now,
            expires_at=expires_at,
        )
        self.rows[key] = StoredCredential(status, new.secret, new.base_url, dict(new.extra))
        return status

    async def delete(self, workspace_id: str, connection_id: str) -> bool:
        return self.rows.pop((workspace_id, connection_id), None) is not None

    async def refused(
        self, workspace_id: str, connection_id: str, reason: str, now: dt.datetime
    ) -> Status | None:
        found = self.rows.get((workspace_id, connection_id))
        if found is None:
            return None
        secret = found.secret
        status = replace(found.status, last_error=reason, last_error_at=now, updated_at=now)
        if isinstance(secret, Tokens):
            secret = replace(secret, expires_at=min(secret.expires_at, now))
            status = replace(status, expires_at=secret.expires_at)
        else:
            status = replace(status, state="needs_reauthorisation")
        self.rows[(workspace_id, connection_id)] = replace(found, secret=secret, status=status)
        return status

    async def statuses(self, workspace_id: str) -> list[Status]:
        return [row.status for (ws, _), row in sorted(self.rows.items()) if ws == workspace_id]


@dataclass
class FakeSlot:
    credential: StoredCredential

    async def save_tokens(self, tokens: Tokens, now: dt.datetime) -> None:
        status = replace(
            self.credential.status,
            expires_at=tokens.expires_at,
            last_refreshed_at=now,
            last_error=None,
            last_error_at=None,
        )
        self.credential = replace(self.credential, secret=tokens, status=status)

    async def needs_reauthorisation(self, reason: str, now: dt.datetime) -> None:
        self._failed("needs_reauthorisation", reason, now)

    async def refresh_failed(self, reason: str, now: dt.datetime) -> None:
        self._failed("ok", reason, now)

    def _failed(self, state: State, reason: str, now: dt.datetime) -> None:
        status = replace(self.credential.status, state=state, last_error=reason, last_error_at=now)
        self.credential = replace(self.credential, status=status)


@dataclass
class FakeTokenEndpoint:
    """A rotating token endpoint: each refresh spends the refresh token it was given and issues
    a new pair; a spent or unknown refresh token is ``invalid_grant``. ``failures`` are raised
    first, one per call; ``delay_s`` holds each refresh open (to overlap callers)."""

    valid: set[str] = field(default_factory=set)
    lifetime: dt.timedelta = dt.timedelta(hours=1)
    now: dt.datetime = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    failures: list[Exception] = field(default_factory=list)
    delay_s: float = 0.0
    refreshed_with: list[str] = field(default_factory=list)
    _serial: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    def issue(self) -> Tokens:
        n = next(self._serial)
        refresh = f"refresh-{n}"
        self.valid.add(refresh)
        return Tokens(f"access-{n}", refresh, self.now + self.lifetime)

    async def exchange_code(self, code: str, redirect_uri: str) -> Tokens:  # noqa: ARG002
        return self.issue()

    async def refresh(self, refresh_token: str) -> Tokens:
        self.refreshed_with.append(refresh_token)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.failures:
            raise self.failures.pop(0)
        if refresh_token not in self.valid:
            raise ReauthorizationNeededError("the provider refused the refresh (invalid_grant)")
        self.valid.discard(refresh_token)
        return self.issue()


@dataclass
class FakeTokenEndpoints:
    endpoints: dict[str, FakeTokenEndpoint] = field(default_factory=dict)

    def authorization(
        self, provider: str, state: str, redirect_uri: str | None = None
    ) -> tuple[str, str]:
        self.endpoint(provider)
        redirect = redirect_uri or f"http://tb.test/v1/oauth/{provider}/callback"
        return f"http://{provider}.test/authorize?state={state}", redirect

    async def complete(self, provider: str, consented: Consented) -> tuple[str, dict[str, str]]:
        self.endpoint(provider)
        return consented.base_url, dict(consented.extra)

    def endpoint(
        self,
        provider: str,
        given: Mapping[str, str] | None = None,  # noqa: ARG002 - the port's signature
    ) -> FakeTokenEndpoint:
        try:
            return self.endpoints[provider]
        except KeyError:
            raise InvalidError(f"no OAuth app is configured for {provider}") from None


def transient(reason: str = "token endpoint answered 503") -> TransientError:
    return TransientError(reason, retry_after=7)


@dataclass(frozen=True, slots=True)
class OAuthProvider(Provider):
    """A provider carrying its OAuth description, as ``Provider`` will once it has the field."""

    oauth: OAuthDescription | None = None


async def _no_check(session: Session) -> Account:
    raise NotImplementedError("a test provider tests no connection")


def fake_provider(name: str, *, kind: Kind = "tracker", token_url: str | None = None) -> Provider:
    """A provider for tests: OAuth with ``token_url`` when given, else an API key."""
    auth: Auth = "api_key" if token_url is None else "oauth2"
    profile = Profile(name, name.title(), kind, RateLimit(100, 1), auth=auth)
    oauth = None if token_url is None else OAuthDescription(token_url)
    return OAuthProvider(profile, _no_check, oauth=oauth)


def fake_registry(*providers: Provider) -> Registry:
    """The given providers plus the installed home system (the admin check asks it)."""
    return Registry([installed_registry().home(), *providers])
