"""A stored credential and the decisions on it (pure: no I/O, no clock of its own).

A connection holds either a static secret (an API key or personal access token, ``api_key``) or
OAuth tokens (``oauth2``: an access token that expires and a refresh token that may rotate).
An OAuth connection whose refresh token was refused needs an admin to connect it again: until
then no refresh is attempted (a refused grant never becomes valid by retrying).
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from timebridge_common.outbound.oauth import Tokens

Kind = Literal["api_key", "oauth2"]
State = Literal["ok", "needs_reauthorisation"]
Decision = Literal["hand_out", "refresh", "refused"]


@dataclass(frozen=True, slots=True)
class Secret:
    """An API key or personal access token: handed out as it is (never shown in a repr)."""

    value: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class NewCredential:
    """What a registering service puts (a new connection, or a replacement of its secret)."""

    workspace_id: str
    connection_id: str
    provider: str
    secret: Secret | Tokens
    base_url: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> Kind:
        return kind_of(self.secret)


@dataclass(frozen=True, slots=True)
class Status:
    """What health shows of a connection (never a secret)."""

    workspace_id: str
    connection_id: str
    provider: str
    kind: Kind
    state: State
    revision: int
    updated_at: dt.datetime
    expires_at: dt.datetime | None = None
    last_refreshed_at: dt.datetime | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredCredential:
    status: Status
    secret: Secret | Tokens
    base_url: str
    extra: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Grant:
    """What a caller gets: the credential to send, what else requests name, until when."""

    base_url: str
    credential: str
    extra: Mapping[str, str]
    expires_at: dt.datetime | None


def kind_of(secret: Secret | Tokens) -> Kind:
    return "api_key" if isinstance(secret, Secret) else "oauth2"


def seal_context(workspace_id: str, connection_id: str, part: str) -> str:
    """Associated data of a sealed value: its workspace, connection and which secret it is, so
    a value copied to another row (another tenant) or another column does not decrypt."""
    return f"credentials:{workspace_id}/{connection_id}/{part}"


def decide(stored: StoredCredential, now: dt.datetime, margin: dt.timedelta) -> Decision:
    """Hand the credential out, refresh it first, or refuse (re-authorisation needed)."""
    if stored.status.state == "needs_reauthorisation":
        return "refused"
    secret = stored.secret
    if isinstance(secret, Secret) or secret.expires_at - margin > now:
        return "hand_out"
    return "refresh"


def grant(stored: StoredCredential) -> Grant:
    secret = stored.secret
    if isinstance(secret, Secret):
        return Grant(stored.base_url, secret.value, stored.extra, None)
    return Grant(stored.base_url, secret.access_token, stored.extra, secret.expires_at)


def refusal(status: Status) -> str:
    """Why access is refused, for the 409 answer and health."""
    why = f": {status.last_error}" if status.last_error else ""
    return f"connection {status.connection_id} needs re-authorisation{why}"
