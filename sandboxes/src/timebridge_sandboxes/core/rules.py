"""The Core sandbox's behaviour behind the routes: request bodies, rules, serialisation,
paging."""

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from timebridge_sandboxes.core.state import (
    CREATE_REQUIRED,
    NOT_NULL,
    CoreState,
    Delivery,
    Json,
    T,
    Webhooks,
    _check_zone,
    _creation,
    _Entry,
    _Project,
    _rfc3339,
    _Ticket,
    _User,
)
from timebridge_sandboxes.faults import ApiError, Faults, RateLimit


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Ref(_Closed):
    system: str = Field(min_length=1)
    id: str = Field(min_length=1)


class _EntryIn(_Closed):
    """The writable fields; which ones a request gave is ``model_fields_set``."""

    user_id: str | None = None
    project_id: str | None = None
    ticket_id: str | None = None
    date: dt.date | None = None
    started_at: AwareDatetime | None = None
    duration_seconds: int | None = Field(default=None, ge=0)
    notes: str | None = None
    billable: bool | None = None
    timezone: Annotated[str, AfterValidator(_check_zone)] | None = None
    external_ref: _Ref | None = None


class _TicketIn(_Closed):
    project_id: str | None = None
    title: str | None = Field(default=None, min_length=1)
    description: str | None = None
    status: str | None = None
    url: str | None = None


class _SeedUser(_Closed):
    name: str
    email: str | None = None
    role: Literal["admin", "member"] = "member"
    active: bool = True
    token: str | None = None


class _SeedProject(_Closed):
    name: str
    archived: bool = False
    tickets: list[str] = []


class _Seed(_Closed):
    workspace_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    users: list[_SeedUser] = []
    service_tokens: list[str] = []
    projects: list[_SeedProject] = []


class _SubscriptionIn(_Closed):
    url: str = Field(pattern=r"^https?://")
    secret: str = Field(min_length=1)
    previous_secrets: list[str] = []


class _Sandbox:
    """Core's rules behind the routes: lookups, permissions, changes, serialisation, webhooks."""

    def __init__(
        self, state: CoreState, faults: Faults, limit: RateLimit, webhooks: Webhooks
    ) -> None:
        self.state = state
        self.faults = faults
        self.limit = limit
        self.webhooks = webhooks

    def entry(self, entry_id: str, within: str | None = None) -> _Entry:
        """A live entry; ``within`` a workspace for API callers (the admin API sees all)."""
        entry = self.state.entries.get(entry_id)
        if entry is not None and entry.deleted_at is None and within in (None, entry.workspace_id):
            return entry
        raise ApiError(404, "Time entry not found")

    def ticket(self, ticket_id: str, within: str | None = None) -> _Ticket:
        ticket = self.state.tickets.get(ticket_id)
        if ticket is not None and within in (None, ticket.workspace_id):
            return ticket
        raise ApiError(404, "Ticket not found")

    def check_references(self, workspace_id: str, fields: Json) -> None:
        """Every id in ``fields`` names something of the workspace; required values are set."""
        for name in NOT_NULL & fields.keys():
            if fields[name] is None:
                raise ApiError(422, f"{name} cannot be null")
        references: dict[str, Mapping[str, _User | _Project | _Ticket]] = {
            "user_id": self.state.users,
            "project_id": self.state.projects,
            "ticket_id": self.state.tickets,
        }
        for name, records in references.items():
            value = fields.get(name)
            if value is None:
                continue
            record = records.get(value)
            if record is None or record.workspace_id != workspace_id:
                raise ApiError(422, f"{name} {value!r} is not in this workspace")
            if isinstance(record, _User) and record.service:
                raise ApiError(422, "a service token's account cannot log time")

    @staticmethod
    def check_writer(caller: _User | None, *user_ids: str | None) -> None:
        """A member may write only their own entries; admins and service tokens any."""
        if caller is not None and caller.role == "member" and set(user_ids) - {None, caller.id}:
            raise ApiError(403, "Members can only change their own time entries")

    def create_entry(self, workspace_id: str, body: _EntryIn, caller: _User | None) -> _Entry:
        fields = body.model_dump(exclude_unset=True)
        missing = [name for name in CREATE_REQUIRED if name not in fields]
        if missing:
            raise ApiError(422, f"missing {', '.join(missing)}")
        self.check_references(workspace_id, fields)
        self.check_writer(caller, fields["user_id"])
        entry = self.state.entries[self.state.add_entry(workspace_id, **fields)]
        self.entry_changed(entry, "time_entry.created")
        return entry

    def update_entry(
        self, entry: _Entry, body: _EntryIn, caller: _User | None, if_match: int | None = None
    ) -> _Entry:
        fields = body.model_dump(exclude_unset=True)
        self.check_writer(caller, entry.user_id, fields.get("user_id"))
        self.check_unlocked(entry)
        if if_match is not None and if_match != entry.version:
            raise ApiError(412, f"Time entry is at version {entry.version}, not {if_match}")
        self.check_references(entry.workspace_id, fields)
        if any(getattr(entry, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(entry, name, value)
            self.edited(entry, "time_entry.updated")
        return entry

    def delete_entry(self, entry: _Entry, caller: _User | None) -> None:
        self.check_writer(caller, entry.user_id)
        self.check_unlocked(entry)
        entry.deleted_at = self.edited(entry, "time_entry.deleted")

    def lock_entry(self, entry: _Entry) -> _Entry:
        if not entry.locked:
            entry.locked = True
            self.edited(entry, "time_entry.updated")
        return entry

    @staticmethod
    def check_unlocked(entry: _Entry) -> None:
        if entry.locked:
            raise ApiError(423, "Time entry is locked (invoiced or approved)")

    def edited(self, entry: _Entry, event: str) -> dt.datetime:
        """An edit: a new version, a later ``updated_at``, a webhook; returns the moment."""
        entry.version += 1
        entry.updated_at = self.state.stamp()
        self.entry_changed(entry, event)
        return entry.updated_at

    def entry_changed(self, entry: _Entry, event: str) -> None:
        data = {"time_entry": self.entry_json(entry, rest=False)}
        self.emit(entry.workspace_id, event, f"time_entry:{entry.id}", data, entry.updated_at)

    def create_ticket(self, workspace_id: str, body: _TicketIn) -> _Ticket:
        fields = body.model_dump(exclude_unset=True)
        if "title" not in fields:
            raise ApiError(422, "missing title")
        self.check_references(workspace_id, fields)
        ticket = self.state.tickets[self.state.add_ticket(workspace_id, **fields)]
        self.ticket_changed(ticket, "ticket.created")
        return ticket

    def update_ticket(self, ticket: _Ticket, body: _TicketIn) -> _Ticket:
        fields = body.model_dump(exclude_unset=True)
        self.check_references(ticket.workspace_id, fields)
        for name, value in fields.items():
            setattr(ticket, name, value)
        ticket.updated_at = self.state.stamp()
        self.ticket_changed(ticket, "ticket.updated")
        return ticket

    def ticket_changed(self, ticket: _Ticket, event: str) -> None:
        data = {"ticket": self.ticket_json(ticket)}
        self.emit(ticket.workspace_id, event, f"ticket:{ticket.id}", data, ticket.updated_at)

    def emit(
        self, workspace_id: str, event: str, subject: str, data: Json, at: dt.datetime
    ) -> None:
        subscription = self.state.webhooks.get(workspace_id)
        if subscription is None:
            return
        delivery_id = self.state.next_id("dlv_")
        payload = {
            "id": delivery_id,
            "type": event,
            "workspace_id": workspace_id,
            "occurred_at": _rfc3339(at),
            "data": data,
        }
        delivery = Delivery(delivery_id, subject, subscription.url, payload)
        self.state.deliveries.append(delivery)
        self.webhooks.send(delivery, subscription, self.state.now)

    @staticmethod
    def user_json(user: _User) -> Json:
        return {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "active": user.active,
            "role": user.role,
        }

    def entry_json(self, entry: _Entry, *, rest: bool = True) -> Json:
        user = self.state.users[entry.user_id]
        body = {
            "id": entry.id,
            "user": {"id": user.id, "email": user.email, "name": user.name},
            "project_id": entry.project_id,
            "ticket_id": entry.ticket_id,
            "date": entry.date.isoformat(),
            "started_at": _rfc3339(entry.started_at) if entry.started_at else None,
            "duration_seconds": entry.duration_seconds,
            "notes": entry.notes,
            "billable": entry.billable,
            "timezone": entry.timezone,
            "updated_at": _rfc3339(entry.updated_at),
            "version": entry.version,
            "locked": entry.locked,
            "external_ref": entry.external_ref,
        }
        if rest:
            body["deleted_at"] = _rfc3339(entry.deleted_at) if entry.deleted_at else None
        return body

    @staticmethod
    def ticket_json(ticket: _Ticket) -> Json:
        return {
            "id": ticket.id,
            "project_id": ticket.project_id,
            "title": ticket.title,
            "description": ticket.description,
            "status": ticket.status,
            "url": ticket.url,
            "updated_at": _rfc3339(ticket.updated_at),
        }


def _by_change(record: _Entry | _Ticket) -> tuple[str, ...]:
    return record.updated_at.isoformat(timespec="microseconds"), _creation(record.id)


def _page(
    items: Iterable[T],
    key: Callable[[T], tuple[str, ...]],
    render: Callable[[T], Json],
    limit: int,
    cursor: str | None,
) -> Json:
    """One page in ``key`` order after the cursor: the last key seen, so a record changed while
    a client pages moves behind it and is seen again instead of shifting others out of sight."""
    ordered = sorted(items, key=key)
    if cursor is not None:
        try:
            after = json.loads(base64.urlsafe_b64decode(cursor))
        except (binascii.Error, ValueError):
            after = None
        if not (isinstance(after, list) and all(isinstance(part, str) for part in after)):
            raise ApiError(400, "Invalid cursor")
        ordered = [item for item in ordered if list(key(item)) > after]
    page = ordered[:limit]
    last = json.dumps(key(page[-1])).encode() if len(ordered) > limit else None
    return {
        "data": [render(item) for item in page],
        "next_cursor": base64.urlsafe_b64encode(last).decode() if last else None,
    }
