"""Connecting an OAuth tracker by consent instead of pasted tokens (issue 11).

The admin starts (:meth:`OAuthConnect.start`): a one-time ``state`` is kept here (its hash,
~10 minutes) with the settings and connection fields chosen, and the credential owner, which
holds the app's client id, answers the provider's consent URL. The provider sends the browser
back to the open callback with ``code`` and ``state`` (:meth:`OAuthConnect.complete`): the state
is spent first (a replayed or expired one is refused), the owner exchanges the code with the
app's secret and keeps the tokens (they never come here), and the integration is tested with
the owner's access token and saved as ``connect`` saves one. A failed test leaves nothing: the
owner forgets the tokens. A day to import the history from, chosen before the consent, starts
the initial import once connected (as the console starts one after an API-key connect).
"""

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from timebridge_providers.installed import registry
from timebridge_providers.kit.credentials import Authorization, CredentialKeeper, oauth_of
from timebridge_providers.kit.registry import UnknownProviderError

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import IntegrationSettings
from timebridge_ingest.domain.connections import (
    Integration,
    listens_to_tracker,
    new_integration_id,
)
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.domain.imports import ImportRefusedError, plan
from timebridge_ingest.handlers.connections import Connections
from timebridge_ingest.handlers.imports import Imports

log = structlog.get_logger(__name__)
STATE_TTL = dt.timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class ConsentStarted:
    """What the admin chose before leaving for the provider's consent page (nothing secret)."""

    workspace_id: str
    provider: str
    admin_id: str
    settings: IntegrationSettings
    fields: dict[str, str] = field(default_factory=dict)
    redirect_uri: str = ""
    history_from: dt.date | None = None
    """Import the tracker's history from this day once connected (None: no import)."""


class OAuthStates(Protocol):
    async def add(
        self, state_hash: str, started: ConsentStarted, expires_at: dt.datetime
    ) -> None: ...

    async def spend(
        self, state_hash: str, provider: str, now: dt.datetime
    ) -> ConsentStarted | None:
        """The consent started with this state, once (None: unknown, spent, expired or for
        another provider; it is spent whatever the outcome)."""
        ...


class ConsentOwner(CredentialKeeper, Protocol):
    """The credential owner's side of a consent (it holds the app's client id and secret)."""

    async def authorization(
        self, provider: str, state: str, redirect_uri: str | None = None
    ) -> Authorization: ...

    async def exchange_code(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        code: str,
        redirect_uri: str,
        *,
        base_url: str = "",
        extra: Mapping[str, str] | None = None,
        returned: Mapping[str, str] | None = None,
    ) -> None: ...


def _returned(params: Mapping[str, str]) -> dict[str, str]:
    """The callback's other parameters, for the owner (a data centre the consent named)."""
    others = [(k, v) for k, v in params.items() if k not in ("code", "state") and len(k) <= 100]
    return dict(others[:20])


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Started:
    authorize_url: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Connected:
    """A consent's outcome: the integration, and its history import when one was asked for
    (``import_error``: why it did not start; the integration is connected all the same)."""

    integration: Integration
    importing: bool = False
    import_error: str | None = None


@dataclass
class OAuthConnect:
    connections: Connections
    states: OAuthStates
    owner: ConsentOwner
    clock: Callable[[], dt.datetime]
    imports: Imports | None = None
    """Starts the initial import a consent asked for (None: imports are not served here)."""

    async def start(
        self,
        workspace_id: str,
        provider: str,
        admin_id: str,
        settings: IntegrationSettings,
        fields: Mapping[str, str],
        *,
        history_from: dt.date | None = None,
    ) -> Started:
        """Where to send the admin's browser; the settings, fields and history's first day are
        checked now."""
        try:
            found = registry().get(provider)
        except UnknownProviderError as exc:
            raise RejectedError(404, str(exc)) from exc
        description = oauth_of(found)
        if found.profile.kind != "tracker" or description is None:
            raise RejectedError(422, f"{found.profile.title} is not connected by consent here")
        # Fields the consent itself decides (an organisation) may be left empty here.
        decided = {k: "-" for k in description.consent_fields if not fields.get(k, "").strip()}
        extra = self.connections.checked(provider, settings, {**fields, **decided})
        extra = {k: v for k, v in extra.items() if k not in decided}
        if history_from is not None:
            self._check_history(settings, history_from)
        state = secrets.token_urlsafe(32)
        try:
            callback = f"{self.connections.public_base_url}/v1/oauth/{provider}/callback"
            where = await self.owner.authorization(provider, state, callback)
        except InvalidMessageError as exc:
            raise RejectedError(422, f"the credential owner refused: {exc}") from exc
        except TransientError as exc:
            raise RejectedError(503, f"the credential owner is unavailable: {exc}") from exc
        expires_at = self.clock() + STATE_TTL
        started = ConsentStarted(
            workspace_id, provider, admin_id, settings, extra, where.redirect_uri, history_from
        )
        await self.states.add(state_hash(state), started, expires_at)
        return Started(where.authorize_url, expires_at)

    def _check_history(self, settings: IntegrationSettings, history_from: dt.date) -> None:
        """The import's period as the imports API will check it (refused now, in words, rather
        than after the consent)."""
        if self.imports is None:
            raise RejectedError(422, "history imports are not served here: connect without one")
        if not listens_to_tracker(settings):
            raise RejectedError(
                422, "a one-way Core -> tracker integration takes nothing from the tracker"
            )
        now = self.clock()
        try:
            plan(
                "check",
                workspace_id="",
                integration_id="",
                kind="initial",
                from_date=history_from,
                to_date=None,
                today=now.date(),
                now=now,
            )
        except ImportRefusedError as exc:
            raise RejectedError(422, f"history import: {exc}") from None

    async def complete(self, provider: str, params: Mapping[str, str]) -> Connected:
        """The provider's redirect: spend the state, have the owner exchange the code, test
        the connection with the owner's access token, save it; then start the history import
        asked for."""
        state, code = params.get("state", ""), params.get("code", "")
        if not state:
            raise RejectedError(422, "the callback needs a state")
        started = await self.states.spend(state_hash(state), provider, self.clock())
        if started is None:
            raise RejectedError(422, "unknown, used or expired state: start connecting again")
        title = registry().get(provider).profile.title
        if params.get("error") or not code:
            reason = params.get("error") or "no code"
            raise RejectedError(422, f"{title} did not grant access ({reason[:100]})")
        integration_id = new_integration_id()
        base_url = self.connections.api_url(provider)
        ws = started.workspace_id
        try:
            await self.owner.exchange_code(
                ws, integration_id, provider, code, started.redirect_uri,
                base_url=base_url, extra=started.fields, returned=_returned(params),
            )  # fmt: skip
            access = await self.owner.access(ws, integration_id)
        except InvalidMessageError as exc:
            raise RejectedError(422, f"{title} refused the consent: {exc}") from exc
        except TransientError as exc:
            raise RejectedError(503, f"the credential owner is unavailable: {exc}") from exc
        # What the consent decided (the owner completed the fields, e.g. the organisation).
        wanted = registry().get(provider).profile.connection_fields
        fields = {**started.fields, **{k: v for k, v in access.extra.items() if k in wanted}}
        base_url = access.base_url or base_url
        integration = await self._save(started, integration_id, base_url, access.credential, fields)
        log.info("integration connected by consent", integration=integration_id)
        return await self._import(started, integration)

    async def _import(self, started: ConsentStarted, integration: Integration) -> Connected:
        if started.history_from is None or self.imports is None:
            return Connected(integration)
        try:
            await self.imports.start(
                integration.workspace_id,
                integration.integration_id,
                kind="initial",
                from_date=started.history_from,
                to_date=None,
            )
        except (RejectedError, TransientError) as exc:  # connected all the same: say why
            reason = exc.reason if isinstance(exc, RejectedError) else str(exc)
            log.warning(
                "history import not started", integration=integration.integration_id, reason=reason
            )
            return Connected(integration, import_error=reason)
        return Connected(integration, importing=True)

    async def _save(
        self,
        started: ConsentStarted,
        integration_id: str,
        base_url: str,
        access_token: str,
        fields: dict[str, str],
    ) -> Integration:
        result = await self.connections.test(
            started.provider, access_token, fields, base_url=base_url
        )
        if not result.ok:
            await self._forget(started.workspace_id, integration_id)
            status = 504 if result.error_kind == "timeout" else 422
            raise RejectedError(status, f"connection test failed: {result.message}")
        integration = Integration(
            integration_id=integration_id,
            workspace_id=started.workspace_id,
            provider=started.provider,
            base_url=base_url,
            api_key=None,
            status="connected",
            settings=started.settings,
            account=result.account,
            extra=fields,
            at_owner=True,
        )
        return await self.connections.keep_connected(integration)  # refused: owner forgets

    async def _forget(self, workspace_id: str, integration_id: str) -> None:
        try:
            await self.owner.delete(workspace_id, integration_id)
        except TransientError as exc:
            log.warning("the credential owner kept tokens never connected", error=str(exc))
