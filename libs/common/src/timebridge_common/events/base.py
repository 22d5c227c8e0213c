"""Base class of every event payload.

Each event class carries its name and major version. A major version owns its own topic
(``timebridge.<kebab-name>.v<N>``) so that a breaking change never reaches an old consumer;
compatible additions (new optional fields) stay within the version and are checked against the
last published schema by the test suite.
"""

import datetime as dt
import functools
import re
import zoneinfo
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

TOPIC_PREFIX = "timebridge"


def _to_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


WorkspaceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]  # = api.WORKSPACE_ID_PATTERN
"""The tenant: every event belongs to exactly one workspace."""

UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC; naive datetimes are rejected."""


SystemName = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_-]{1,39}$",
        description="A system id: 'core', 'everhour', 'harvest', 'toggl', 'clockify', "
        "'hubstaff', 'quickbooks_time', 'tempo', 'quickbooks', 'xero', 'freshbooks', ...",
    ),
]
ExternalId = Annotated[str, Field(min_length=1, max_length=200)]


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None
    return value


IanaTimezone = Annotated[str, AfterValidator(_check_timezone)]


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


class Event(BaseModel):
    """A fact that happened, named in the past tense.

    ``extra="ignore"`` lets a consumer built against revision N read revision N+1 of the same
    major version, which may only add optional fields.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: ClassVar[str]
    version: ClassVar[int]

    workspace_id: WorkspaceId

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__ or "version" not in cls.__dict__:
            raise TypeError(f"{cls.__name__} must define class attributes 'name' and 'version'")

    @classmethod
    def type_name(cls) -> str:
        """The CloudEvents ``type``, e.g. ``timebridge.TimeEntryLogged.v1``."""
        return event_type_name(cls.name, cls.version)

    @classmethod
    def topic(cls) -> str:
        return event_topic(cls.name, cls.version)

    def partition_key(self) -> str:
        """Events with the same key keep their relative order (one partition)."""
        raise NotImplementedError


def event_type_name(name: str, version: int) -> str:
    return f"{TOPIC_PREFIX}.{name}.v{version}"


def event_topic(name: str, version: int) -> str:
    return f"{TOPIC_PREFIX}.{_kebab(name)}.v{version}"


_TYPE_NAME = re.compile(rf"{TOPIC_PREFIX}\.([A-Za-z]+)\.v([0-9]+)")


@functools.lru_cache(maxsize=256)
def parse_type_name(type_name: str) -> tuple[str, int]:
    """Split ``timebridge.TimeEntryLogged.v1`` into ``("TimeEntryLogged", 1)``.

    Cached: every consumed record's envelope names one of a few types (issue 12: the parse was
    part of ~20% of mapping's CPU per entry). Bounded, and a name that raises is not cached.
    """
    match = _TYPE_NAME.fullmatch(type_name)
    if match is None:
        raise ValueError(f"not a Timebridge event type: {type_name!r}")
    return match.group(1), int(match.group(2))
