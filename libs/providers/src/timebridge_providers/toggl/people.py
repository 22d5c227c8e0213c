"""Who logged an entry and in which time zone its date is read.

``/me`` counts against Toggl's user quota (30 requests an hour, whatever the plan), and a
capability is opened per operation, so the token user and the members list are kept per
credential for :data:`TTL_S` in this process.

Toggl gives the token user's IANA zone (``GET /me``); a workspace member's zone is used where the
members list carries one, else the connection's zone (``Access.extra["timezone"]``, set when the
integration is connected; default: the token user's zone). Both lists are read once per capability.
"""

import asyncio
import time
from dataclasses import dataclass

from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.kit.zones import zone_name
from timebridge_providers.toggl.client import TogglClient
from timebridge_providers.toggl.wire import Me, WorkspaceUser

TTL_S = 900.0
_ME: dict[str, tuple[float, Me]] = {}
_READING: dict[str, "asyncio.Future[Me]"] = {}
_MEMBERS: dict[str, tuple[float, dict[int, WorkspaceUser]]] = {}


@dataclass(frozen=True, slots=True)
class Person:
    email: str | None
    name: str | None
    zone: str


class People:
    def __init__(self, client: TogglClient, zone: str | None = None) -> None:
        self._client = client
        self._zone = zone
        self._me: Me | None = None
        self._members: dict[int, WorkspaceUser] | None = None

    async def me(self) -> Me:
        if self._me is None:
            identity = self._client.identity
            reading = _READING.get(identity)
            if reading is None or reading.get_loop() is not asyncio.get_running_loop():
                # a batch's writers start together: one read for them all
                reading = _READING[identity] = asyncio.ensure_future(self._read_me())
                reading.add_done_callback(
                    lambda done: _READING.pop(identity) if _READING.get(identity) is done else None
                )
            self._me = await asyncio.shield(reading)
        return self._me

    async def _read_me(self) -> Me:
        """``/me``, kept for :data:`TTL_S` per token (a batch's writers share one read)."""
        found = _ME.get(self._client.identity)
        if found is not None and time.monotonic() - found[0] < TTL_S:
            return found[1]
        me = await self._client.me()
        _ME[self._client.identity] = (time.monotonic(), me)
        return me

    async def default_zone(self) -> str:
        return zone_name(self._zone or (await self.me()).timezone)

    async def person(self, user_id: int) -> Person:
        me = await self.me()
        if user_id == me.id:
            return Person(me.email, me.fullname, zone_name(me.timezone))
        member = (await self._members_by_id()).get(user_id)
        fallback = await self.default_zone()
        if member is None:
            return Person(None, None, fallback)
        zone = zone_name(member.timezone) if member.timezone else fallback
        return Person(member.email, member.fullname or member.name, zone)

    async def _members_by_id(self) -> dict[int, WorkspaceUser]:
        if self._members is None:
            kept = _MEMBERS.get(self._client.identity)
            if kept is not None and time.monotonic() - kept[0] < TTL_S:
                self._members = kept[1]
                return self._members
            try:
                self._members = {u.id: u for u in await self._client.users()}
            except AuthenticationError:  # a member's token may not list the workspace's users
                self._members = {}
            _MEMBERS[self._client.identity] = (time.monotonic(), self._members)
        return self._members
