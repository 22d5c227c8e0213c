"""Connections: a workspace's Core connection and its tracker integrations.

Pure rules only; the handlers do the calls. The guide's flow is "paste the API key, test the
connection, save": saving always tests again, so a key that stopped working between the two
clicks is never saved.
"""

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from timebridge_providers.kit.profile import Profile

from timebridge_common.events import ConnectionChanged, IntegrationSettings
from timebridge_common.outbound.oauth import Tokens
from timebridge_ingest.domain.errors import RejectedError

CORE = "core"


@dataclass(frozen=True, slots=True)
class Workspace:
    workspace_id: str
    core_base_url: str
    core_token: str | None
    """Only until the credential owner holds it (then ``None``: no copy is kept here)."""
    revision: int = 1
    at_owner: bool = False
    """Whether the credential owner holds the Core token (handed over on save or at start-up)."""


@dataclass(frozen=True, slots=True)
class Integration:
    integration_id: str
    workspace_id: str
    provider: str
    base_url: str
    api_key: str | None
    """Only until the credential owner holds it (``at_owner``), and while connected."""
    status: Literal["connected", "disconnected"]
    settings: IntegrationSettings
    account: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    """The provider's connection fields (an account id): not secret, handed to every session."""
    hook_id: str | None = None
    hook_token_hash: str | None = None
    """SHA-256 of the webhook URL's secret segment; the token itself is never stored."""
    revision: int = 1
    at_owner: bool = False
    """Whether the credential owner holds the secret (the other services' only source)."""

    def disconnected(self) -> "Integration":
        return replace(
            self,
            api_key=None,
            status="disconnected",
            hook_id=None,
            hook_token_hash=None,
            revision=self.revision + 1,
            at_owner=False,
        )


def new_integration_id() -> str:
    return "int_" + secrets.token_hex(8)


def new_hook_token() -> str:
    """An unguessable URL segment: Everhour deliveries are not signed, the URL is the secret."""
    return secrets.token_urlsafe(32)


def hook_token_hash(token: str) -> str:
    """What is stored and looked up instead of the token (SHA-256, hex).

    The token carries 256 random bits, so a plain hash cannot be reversed or guessed; a copy
    of the database or of a log line holding the hash does not let anyone post deliveries.
    Any text hashes (undecodable bytes were already replaced), so garbage is simply unknown.
    """
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def wants_webhook(settings: IntegrationSettings) -> bool:
    """Real-time sync of the tracker's changes runs on its webhooks; other frequencies poll.

    A one-way Core -> tracker integration never takes the tracker's changes, so it registers no
    webhook (each of our writes would only come back as an echo to re-read) and is not polled.
    """
    return settings.frequency == "realtime" and listens_to_tracker(settings)


def listens_to_tracker(settings: IntegrationSettings) -> bool:
    """Whether the tracker's changes matter to this integration (webhook or polling)."""
    return settings.direction != "core_to_tracker"


def check_settings(settings: IntegrationSettings) -> None:
    if settings.unmapped_user_policy != "default_user":
        return
    needs_core = settings.direction in {"tracker_to_core", "two_way"}
    needs_tracker = settings.direction in {"core_to_tracker", "two_way"}
    missing = [
        name
        for name, needed, value in (
            ("default_core_user_id", needs_core, settings.default_core_user_id),
            ("default_tracker_user_id", needs_tracker, settings.default_tracker_user_id),
        )
        if needed and value is None
    ]
    if missing:
        raise RejectedError(
            422, f"unmapped_user_policy=default_user with this direction needs {', '.join(missing)}"
        )


def check_direction(
    settings: IntegrationSettings, *, writable: bool, reason: str, title: str
) -> None:
    """A tracker whose entries cannot be written takes only its own changes to Core: any other
    direction is refused with the provider's reason rather than failing every write later."""
    if writable or settings.direction == "tracker_to_core":
        return
    raise RejectedError(
        422,
        f"{title} entries cannot be written ({reason or 'read-only'}): "
        "the only direction is tracker_to_core",
    )


_FIELD_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?")
"""Short printable ASCII without surrounding blanks: an id, a tenant, a zone name."""


def check_connection_fields(
    wanted: Mapping[str, str], given: Mapping[str, str], title: str
) -> dict[str, str]:
    """The connection fields a provider's profile names, each given and each short printable
    text; an unknown key is refused (a typo would otherwise be silently dropped)."""
    unknown = sorted(set(given) - set(wanted))
    if unknown:
        expected = ", ".join(sorted(wanted)) or "none"
        raise RejectedError(
            422, f"{title} takes no connection field {', '.join(unknown)} (expected: {expected})"
        )
    missing = [f"{key} ({label})" for key, label in wanted.items() if not given.get(key)]
    if missing:
        raise RejectedError(422, f"{title} needs the connection field {', '.join(missing)}")
    bad = sorted(key for key, value in given.items() if not _FIELD_VALUE.fullmatch(value))
    if bad:
        raise RejectedError(
            422, f"connection field {', '.join(bad)}: 1-200 printable characters, no blanks around"
        )
    return {key: given[key] for key in wanted}


def check_sign_in(profile: Profile, *, oauth: Tokens | None, owner: bool) -> None:
    """OAuth tokens for a provider that signs in with OAuth, a key for the others.

    A rotating refresh token needs its one owner: without the credential owner configured an
    OAuth tracker is connected with its access token alone, as before (it works until it expires).
    """
    if profile.auth != "oauth2" and oauth is not None:
        raise RejectedError(422, f"{profile.title} signs in with a key, not OAuth tokens")
    if profile.auth == "oauth2" and oauth is None and owner:
        raise RejectedError(
            422, f"{profile.title} signs in with OAuth: give its tokens (oauth.refresh_token)"
        )


def integration_changed(integration: Integration, *, now: dt.datetime) -> ConnectionChanged:
    return ConnectionChanged(
        workspace_id=integration.workspace_id,
        connection_id=integration.integration_id,
        provider=integration.provider,
        status=integration.status,
        base_url=integration.base_url,
        account=integration.account,
        extra=integration.extra,
        settings=integration.settings,
        revision=integration.revision,
        changed_at=now,
    )


def core_changed(workspace: Workspace, *, now: dt.datetime) -> ConnectionChanged:
    return ConnectionChanged(
        workspace_id=workspace.workspace_id,
        connection_id=core_connection_id(workspace.workspace_id),
        provider=CORE,
        status="connected",
        base_url=workspace.core_base_url,
        revision=workspace.revision,
        changed_at=now,
    )


def core_connection_id(workspace_id: str) -> str:
    return f"core_{workspace_id}"
