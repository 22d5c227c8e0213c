"""Connecting Core and trackers: register, test, save, change settings, disconnect.

Every change is written with its ``ConnectionChanged`` event in one transaction (outbox), so the
services that keep a copy of the connection never miss or invent one.

With a credential owner (the credentials service, ``credentials``), every secret an admin enters
(a tracker's key or OAuth tokens, the workspace's Core token) is handed to it before the change is
saved: the other services take their access from it (``CredentialSource.access``), and an OAuth
tracker's rotating refresh token has exactly one owner. A secret the owner did not take is not
saved here either (the admin sees why: 422 refused, 503 unavailable).
"""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import structlog
from timebridge_providers.installed import registry
from timebridge_providers.kit.credentials import CredentialKeeper
from timebridge_providers.kit.ports.observe import Observer
from timebridge_providers.kit.registry import Account
from timebridge_providers.kit.session import Access

from timebridge_common.crypto import SecretBox
from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import ConnectionChanged, IntegrationSettings
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_common.outbound.oauth import ReauthorizationNeededError, Tokens
from timebridge_ingest.domain.connections import (
    Integration,
    Workspace,
    check_connection_fields,
    check_direction,
    check_settings,
    check_sign_in,
    core_changed,
    core_connection_id,
    hook_token_hash,
    integration_changed,
    new_hook_token,
    new_integration_id,
    wants_webhook,
)
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.access import ConnectionAccesses, has_access
from timebridge_ingest.handlers.hooks import hint_webhooks
from timebridge_ingest.handlers.ports import (
    ConnectionsStore,
    ConnectionsTx,
    Observers,
    OpenIdentity,
    Sessions,
)

log = structlog.get_logger(__name__)

TestErrorKind = Literal["bad_key", "rate_limited", "timeout", "unreachable", "refused"]


@dataclass(frozen=True, slots=True)
class TestResult:
    ok: bool
    account: dict[str, str] = field(default_factory=dict)
    error_kind: TestErrorKind | None = None
    message: str | None = None
    retry_after_s: float | None = None


@dataclass
class Connections:
    """The connection use cases and what they need."""

    store: ConnectionsStore
    box: SecretBox
    publisher: EventPublisher
    sessions: Sessions
    observers: Observers
    identity: OpenIdentity
    """Opens the home system with a token: who it is (``GET /me``), and of which workspace."""
    api_url: Callable[[str], str]
    """provider -> the base URL of its API (configuration, else the profile's default)."""
    public_base_url: str
    clock: Callable[[], dt.datetime]
    test_timeout_s: float = 10.0
    """How long "Test Connection" waits for the tracker, retries included."""
    credentials: CredentialKeeper | None = None
    """The credential owner every secret is handed to (None: not configured, kept here only)."""

    async def register_workspace(
        self, workspace_id: str, core_base_url: str, core_token: str
    ) -> Workspace:
        """The platform admin registers a workspace's Core (checked with Core before saving)."""
        title = registry().home().profile.title
        try:
            async with self.identity(core_base_url, core_token) as home:
                me = await home.me()
        except AuthenticationError as exc:
            raise RejectedError(422, f"{title} refused the token: {exc.body}") from exc
        except (ProviderError, TransientError) as exc:
            raise RejectedError(502, f"{title} could not be reached: {exc}") from exc
        if me.workspace_id != workspace_id:
            raise RejectedError(
                422,
                f"the token belongs to Core workspace {me.workspace_id!r}, not {workspace_id!r}",
            )
        held = await self.hand_over(
            workspace_id,
            core_connection_id(workspace_id),
            registry().home().name,
            core_token,
            base_url=core_base_url,
        )
        async with self.store.transaction() as tx:
            existing = await tx.workspace(workspace_id, for_update=True)
            workspace = Workspace(
                workspace_id,
                core_base_url,
                core_token,
                existing.revision + 1 if existing else 1,
                at_owner=held,
            )
            await tx.put_workspace(workspace)
            event = core_changed(workspace, now=self.clock())
            await self._publish(tx, event)
        return workspace

    async def core_base_url(self, workspace_id: str) -> str | None:
        """Where the workspace's Core answers (None if it is not registered): admin checks."""
        async with self.store.transaction() as tx:
            workspace = await tx.workspace(workspace_id)
        return None if workspace is None else workspace.core_base_url

    async def test(
        self,
        provider: str,
        api_key: str,
        fields: Mapping[str, str] | None = None,
        *,
        base_url: str | None = None,
    ) -> TestResult:
        """The guide's "Test Connection": a real call with the key (and the provider's connection
        fields, e.g. an account id), and a clear verdict; ``base_url``: the account's own API
        host when a consent named it (else the configured one)."""
        extra = self._check_fields(provider, fields or {})
        return await self._test(provider, base_url or self.api_url(provider), api_key, extra)

    async def retest(self, workspace_id: str, integration_id: str) -> TestResult:
        """Test a saved connection again with its key (nobody pastes it again): the owner's once
        it holds it (an OAuth tracker's current access token), else the saved one."""
        integration = await self.get(workspace_id, integration_id)
        if not has_access(integration):
            raise RejectedError(409, "the integration is disconnected: connect it again")
        key = integration.api_key or ""
        if self.credentials is not None and integration.at_owner:
            try:
                key = (await self.credentials.access(workspace_id, integration_id)).credential
            except ReauthorizationNeededError as exc:
                return TestResult(False, error_kind="bad_key", message=str(exc))
            except InvalidMessageError as exc:
                raise RejectedError(409, f"the credential owner holds no key: {exc}") from exc
            except TransientError as exc:
                raise RejectedError(503, f"the credential owner is unavailable: {exc}") from exc
        return await self._test(integration.provider, integration.base_url, key, integration.extra)

    async def _test(
        self, provider: str, base_url: str, api_key: str, extra: Mapping[str, str]
    ) -> TestResult:
        found = registry().get(provider)
        title = found.profile.title
        try:
            # An admin is waiting on the screen: one deadline for the whole test, retries and
            # rate-limit waits included, and an answer that says it was the deadline.
            async with asyncio.timeout(self.test_timeout_s):
                account = await found.check(
                    self.sessions.session(provider, Access(base_url, api_key, dict(extra)))
                )
        except TimeoutError:
            return TestResult(
                False,
                error_kind="timeout",
                message=f"{title} did not answer within {self.test_timeout_s:g} s",
            )
        except AuthenticationError as exc:
            return TestResult(False, error_kind="bad_key", message=f"{title}: {exc.body}")
        except ProviderError as exc:
            return TestResult(False, error_kind="refused", message=str(exc))
        except TransientError as exc:
            limited = "429" in exc.reason
            return TestResult(
                False,
                error_kind="rate_limited" if limited else "unreachable",
                message=exc.reason,
                retry_after_s=exc.retry_after,
            )
        return TestResult(True, account=_account(account))

    async def connect(
        self,
        workspace_id: str,
        provider: str,
        api_key: str,
        settings: IntegrationSettings,
        fields: Mapping[str, str] | None = None,
        *,
        oauth: Tokens | None = None,
    ) -> Integration:
        """Test, hand the secret to the owner, register the webhook, save. ``oauth``: the tokens
        of an OAuth tracker (``api_key`` is then its current access token)."""
        extra = self.checked(provider, settings, fields or {})
        check_sign_in(
            registry().get(provider).profile, oauth=oauth, owner=self.credentials is not None
        )
        result = await self.test(provider, api_key, extra)
        if not result.ok:
            status = 504 if result.error_kind == "timeout" else 422
            raise RejectedError(status, f"connection test failed: {result.message}")
        integration = Integration(
            integration_id=new_integration_id(),
            workspace_id=workspace_id,
            provider=provider,
            base_url=self.api_url(provider),
            api_key=api_key,
            status="connected",
            settings=settings,
            account=result.account,
            extra=extra,
        )
        held = await self.hand_over(
            workspace_id,
            integration.integration_id,
            provider,
            api_key,
            base_url=integration.base_url,
            extra=extra,
            oauth=oauth,
        )
        integration = await self.keep_connected(replace(integration, at_owner=held))
        log.info("integration connected", integration=integration.integration_id)
        return integration

    def checked(
        self, provider: str, settings: IntegrationSettings, fields: Mapping[str, str]
    ) -> dict[str, str]:
        """The settings and connection fields as ``connect`` checks them (a consent: before)."""
        check_settings(settings)
        extra = self._check_fields(provider, fields)
        self._check_direction(provider, settings)
        return extra

    async def keep_connected(self, integration: Integration) -> Integration:
        """Save a tested integration whose secret the owner holds (or, without an owner, it
        carries), its webhook registered first if it wants one; refused, the owner forgets."""
        if self._wants_webhook(integration):
            try:
                integration = await self._register_hook(integration)
            except RejectedError:
                await self._forget(integration)  # never saved: the owner keeps nothing of it
                raise
        async with self.store.transaction() as tx:
            await tx.put_integration(integration)
            if integration.hook_token_hash:
                await tx.remove_pending_hook(integration.hook_token_hash)
            await self._publish(tx, self._changed(integration))
        return integration

    async def update_settings(
        self, workspace_id: str, integration_id: str, settings: IntegrationSettings
    ) -> Integration:
        check_settings(settings)
        current = await self.get(workspace_id, integration_id)
        self._check_direction(current.provider, settings)
        if current.status != "connected":
            raise RejectedError(409, "the integration is disconnected")
        updated = replace(current, settings=settings, revision=current.revision + 1)
        if self._wants_webhook(updated) and not current.hook_id:
            updated = await self._register_hook(updated)
        elif not self._wants_webhook(updated) and current.hook_id:
            await self._delete_hook(current)
            updated = replace(updated, hook_id=None, hook_token_hash=None)
        async with self.store.transaction() as tx:
            await tx.put_integration(updated)
            new_hash = updated.hook_token_hash
            if new_hash and new_hash != current.hook_token_hash:
                await tx.remove_pending_hook(new_hash)
            await self._publish(tx, self._changed(updated))
        return updated

    async def disconnect(self, workspace_id: str, integration_id: str) -> Integration:
        current = await self.get(workspace_id, integration_id)
        if current.status == "disconnected":
            return current
        if current.hook_id:
            await self._delete_hook(current)
        if self.credentials is not None:
            await self._owner(self.credentials.delete(workspace_id, integration_id))
        gone = current.disconnected()
        async with self.store.transaction() as tx:
            await tx.put_integration(gone)
            await self._publish(tx, self._changed(gone))
        log.info("integration disconnected", integration=integration_id)
        return gone

    async def get(self, workspace_id: str, integration_id: str) -> Integration:
        async with self.store.transaction() as tx:
            found = await tx.integration(integration_id)
        if found is None or found.workspace_id != workspace_id:
            raise RejectedError(404, f"no integration {integration_id!r} here")
        return found

    async def list(self, workspace_id: str) -> list[Integration]:
        async with self.store.transaction() as tx:
            return await tx.integrations(workspace_id)

    async def keep_hook_alive(self, integration: Integration) -> str | None:
        """Re-activate the integration's webhook if the provider disabled it (Everhour does after
        failed deliveries), or register it again if it is gone; what was done (``None``: it was
        fine). The caller re-polls the gap."""
        if not has_access(integration) or integration.hook_id is None:
            return None
        observer = await self._observer(integration)
        if observer.hooks is None:
            return None
        state = await observer.hooks.ensure_active(integration.hook_id)
        if state is not None and state.hook_id == integration.hook_id:
            return None
        if state is None:
            try:
                renewed = await self._register_hook(integration)
            except RejectedError as exc:  # the poll goes on; the next one tries again
                return f"the webhook is gone at the provider and was not registered again: {exc}"
            note = "the webhook was gone at the provider: registered again"
        else:
            renewed = replace(integration, hook_id=state.hook_id)
            note = "the provider had disabled the webhook (failed deliveries): re-activated"
        async with self.store.transaction() as tx:
            current = await tx.integration(integration.integration_id, for_update=True)
            if current is not None and current.hook_id == integration.hook_id:
                await tx.put_integration(
                    replace(
                        current,
                        hook_id=renewed.hook_id,
                        hook_token_hash=renewed.hook_token_hash,
                    )
                )
                if renewed.hook_token_hash != integration.hook_token_hash:
                    assert renewed.hook_token_hash is not None
                    await tx.remove_pending_hook(renewed.hook_token_hash)
                log.warning(note, integration=integration.integration_id)
                return note
        await self._delete_hook(renewed)  # changed meanwhile (disconnected...): not ours to keep
        return None

    async def hand_over(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        secret: str,
        *,
        base_url: str,
        extra: Mapping[str, str] | None = None,
        oauth: Tokens | None = None,
    ) -> bool:
        """Give the owner the connection's secret; whether it holds it now."""
        if self.credentials is None:
            return False
        if oauth is not None:
            put = self.credentials.put_tokens(
                workspace_id, connection_id, provider, oauth, base_url=base_url, extra=extra
            )
        else:
            put = self.credentials.put_key(
                workspace_id, connection_id, provider, secret, base_url=base_url, extra=extra
            )
        await self._owner(put)
        return True

    async def save(self, integration: Integration) -> None:
        """Store the integration with its ``ConnectionChanged`` (one transaction: outbox)."""
        async with self.store.transaction() as tx:
            await tx.put_integration(integration)
            await self._publish(tx, self._changed(integration))

    async def _forget(self, integration: Integration) -> None:
        """Best effort: an orphan credential at the owner is only never asked for."""
        if self.credentials is None:
            return
        try:
            await self.credentials.delete(integration.workspace_id, integration.integration_id)
        except TransientError as exc:
            log.warning("the credential owner kept a key never saved here", error=str(exc))

    @staticmethod
    async def _owner(call: Awaitable[None]) -> None:
        """A call to the owner, its refusals as the admin's answers."""
        try:
            await call
        except InvalidMessageError as exc:
            raise RejectedError(422, f"the credential owner refused the secret: {exc}") from exc
        except TransientError as exc:
            raise RejectedError(503, f"the credential owner is unavailable: {exc}") from exc

    def _wants_webhook(self, integration: Integration) -> bool:
        """Real-time and a provider whose webhooks are registered per connection."""
        return (
            wants_webhook(integration.settings) and hint_webhooks(integration.provider) is not None
        )

    async def _register_hook(self, integration: Integration) -> Integration:
        """Register the tracker webhook; its handshake arrives before this call returns.

        The token only lives in the URL handed to the tracker: its hash is what is stored.
        """
        try:
            observer = await self._observer(integration)
        except (ProviderError, TransientError) as exc:  # the owner cannot hand the access out
            raise RejectedError(503, f"the connection's access is unavailable: {exc}") from exc
        assert observer.hooks is not None
        token = new_hook_token()
        token_hash = hook_token_hash(token)
        async with self.store.transaction() as tx:
            await tx.add_pending_hook(token_hash, integration.workspace_id)
        target = f"{self.public_base_url}/v1/webhooks/{integration.provider}/{token}"
        try:
            hook = await observer.hooks.register(target)
        except (ProviderError, TransientError) as exc:
            async with self.store.transaction() as tx:
                await tx.remove_pending_hook(token_hash)
            title = registry().get(integration.provider).profile.title
            raise RejectedError(502, f"{title} did not register the webhook: {exc}") from exc
        return replace(integration, hook_id=hook.hook_id, hook_token_hash=token_hash)

    async def _delete_hook(self, integration: Integration) -> None:
        """Best effort: a hook left behind only sends deliveries we answer with 404."""
        if not has_access(integration) or integration.hook_id is None:
            return
        try:
            observer = await self._observer(integration)
            if observer.hooks is not None:
                await observer.hooks.delete(integration.hook_id)
        except (ProviderError, TransientError) as exc:
            log.warning("webhook not removed at the tracker", error=str(exc))

    async def _observer(self, integration: Integration) -> Observer:
        access = await ConnectionAccesses(self.credentials).of(integration)
        return self.observers(
            integration.provider, access.base_url, access.credential, access.extra
        )

    def _changed(self, integration: Integration) -> ConnectionChanged:
        """ConnectionChanged v2: no secret on Kafka (readers ask the credentials owner)."""
        return integration_changed(integration, now=self.clock())

    async def _publish(self, tx: ConnectionsTx, event: ConnectionChanged) -> None:
        await tx.publish([(event, self.publisher.envelope(event))])

    @staticmethod
    def _check_provider(provider: str) -> None:
        if provider not in registry().names("tracker") | registry().names("hr"):
            raise RejectedError(404, f"unknown tracker {provider!r}")

    @staticmethod
    def _check_direction(provider: str, settings: IntegrationSettings) -> None:
        profile = registry().get(provider).profile
        if profile.kind == "hr":
            return  # an HR source (time off) has no time-entry direction
        check_direction(
            settings,
            writable=profile.writable,
            reason=profile.not_writable_reason,
            title=profile.title,
        )

    @classmethod
    def _check_fields(cls, provider: str, fields: Mapping[str, str]) -> dict[str, str]:
        """The provider's connection fields, checked against its profile."""
        cls._check_provider(provider)
        profile = registry().get(provider).profile
        return check_connection_fields(profile.connection_fields, fields, profile.title)


def _account(account: Account) -> dict[str, str]:
    """Who the key acts as, as shown with the integration."""
    shown = {"user_id": account.external_id}
    if account.name:
        shown["name"] = account.name
    if account.email:
        shown["email"] = account.email
    return shown
