"""Events about the health of a connection's observation (version 1)."""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from timebridge_common.events.base import Event, UtcDatetime

HealthState = Literal["ok", "failing", "needs_reauthorisation"]
"""``needs_reauthorisation``: the provider refused the credential (a revoked key, an expired
token): someone must reconnect; ``failing``: polls fail for another reason (retried)."""

_Id = Annotated[str, Field(min_length=1, max_length=200)]


class ConnectionHealthChanged(Event):
    """A connection's observation changed state: its polls started failing, its credential was
    refused, or it works again.

    Published only on a change of state (not once per failed poll), so the sync log shows
    "the tracker rejected the API key at 10:02" once, next to the entries' outcomes. The
    ``message`` and ``provider_response`` are what the provider answered (never a credential).
    """

    name: ClassVar[str] = "ConnectionHealthChanged"
    version: ClassVar[int] = 1

    connection_id: _Id
    integration_id: str | None = Field(
        default=None, max_length=200, description="null: the workspace's home system connection"
    )
    provider: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$", description="The system polled")
    state: HealthState
    previous_state: HealthState | None = Field(
        default=None, description="null: the connection's first poll"
    )
    error_class: Literal["authentication", "refused", "unavailable"] | None = Field(
        default=None, description="null when the state is ok"
    )
    message: str | None = Field(default=None, max_length=2_000)
    provider_response: str | None = Field(
        default=None, max_length=4_000, description="The provider's answer (status and body)"
    )
    failures: int = Field(ge=0, description="Consecutive failed polls so far")
    changed_at: UtcDatetime

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.connection_id}"
