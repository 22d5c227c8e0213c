"""Connection state events: ``ConnectionChanged`` v2, and v1 (deprecated) with its upcaster.

v1 carried the connection's credential sealed with the platform key (``credentials_encrypted``).
Since every credential lives only at the credentials service, ingest publishes v2, which has no
such field; v1 stays published for BI and its topic is still read by the connection copies (old
records on the compacted topic) through :func:`upcast_v1`, which drops the field. Ingest keeps
one revision counter per connection across both versions, so a copy keeping the highest revision
is never set back by a v1 record read after a newer v2 one.
"""

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from timebridge_common.events.base import (
    Event,
    ExternalId,
    IanaTimezone,
    SystemName,
    UtcDatetime,
)
from timebridge_common.events.upcasting import UPCASTERS


class IntegrationSettings(BaseModel):
    """How one tracker integration syncs (the Everhour guide's "Sync Configuration")."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    direction: Literal["core_to_tracker", "tracker_to_core", "two_way"] = "two_way"
    frequency: Literal["realtime", "every_5_minutes", "hourly", "daily"] = "realtime"
    unmapped_user_policy: Literal["skip", "default_user", "queue"] = "queue"
    default_core_user_id: ExternalId | None = Field(
        default=None, description="With default_user: who entries from the tracker go to"
    )
    default_tracker_user_id: ExternalId | None = Field(
        default=None, description="With default_user: who entries from Core go to"
    )
    conflict_policy: Literal["prefer_core", "prefer_tracker", "manual_review"] = "manual_review"
    timezone: IanaTimezone = Field(
        default="UTC",
        description="The workspace's IANA time zone: frequency daily syncs at the end of its day",
    )


class ConnectionChangedV1(Event):
    """The full current state of a connection (Core or a tracker) after any change.

    Published on a compacted topic keyed by connection id: the latest record per key is the
    connection's state, so a service can rebuild its copy by reading the topic from the start.
    Credentials travel encrypted with the platform key (AES-256-GCM, associated data
    ``connection:<connection_id>``); only services holding that key can use them.
    """

    # The class name changed with v2; the published schema keeps its title.
    model_config = ConfigDict(frozen=True, extra="ignore", title="ConnectionChanged")

    name: ClassVar[str] = "ConnectionChanged"
    version: ClassVar[int] = 1

    connection_id: ExternalId
    provider: SystemName
    status: Literal["connected", "disconnected"]
    base_url: str
    credentials_encrypted: str | None = Field(
        default=None, description="null once disconnected: the credentials are wiped"
    )
    account: dict[str, str] = Field(
        default_factory=dict, description="Who the credentials act as (tracker user id, name)"
    )
    extra: dict[str, str] = Field(
        default_factory=dict,
        description="The provider's connection fields an admin entered besides the credential"
        " (e.g. an account id), not secret; handed to every session as its access's extras",
    )
    settings: IntegrationSettings | None = Field(default=None, description="null for Core")
    revision: int = Field(ge=1, description="Increases with every change of this connection")
    changed_at: UtcDatetime

    def partition_key(self) -> str:
        return self.connection_id


class ConnectionChanged(Event):
    """The full current state of a connection (Core or a tracker) after any change.

    Published on a compacted topic keyed by connection id: the latest record per key is the
    connection's state, so a service can rebuild its copy by reading the topic from the start.
    No credential travels: the credentials service holds every connection's secret and hands a
    service the access it needs before each provider call.
    """

    name: ClassVar[str] = "ConnectionChanged"
    version: ClassVar[int] = 2

    connection_id: ExternalId
    provider: SystemName
    status: Literal["connected", "disconnected"]
    base_url: str
    account: dict[str, str] = Field(
        default_factory=dict, description="Who the connection acts as (tracker user id, name)"
    )
    extra: dict[str, str] = Field(
        default_factory=dict,
        description="The provider's connection fields an admin entered besides the credential"
        " (e.g. an account id), not secret; handed to every session as its access's extras",
    )
    settings: IntegrationSettings | None = Field(default=None, description="null for Core")
    revision: int = Field(
        ge=1, description="Increases with every change of this connection (v1 and v2 alike)"
    )
    changed_at: UtcDatetime

    def partition_key(self) -> str:
        return self.connection_id


@UPCASTERS.register("ConnectionChanged", 1)
def _connection_changed_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v2 is v1 without ``credentials_encrypted`` (the secret lives at the credentials service)."""
    return {k: v for k, v in payload.items() if k != "credentials_encrypted"}


def upcast_v1(event: ConnectionChangedV1) -> ConnectionChanged:
    """A v1 record read from the old topic, as the v2 event it stands for."""
    payload = UPCASTERS.upcast("ConnectionChanged", event.model_dump(mode="json"), 1, 2)
    return ConnectionChanged.model_validate(payload)
