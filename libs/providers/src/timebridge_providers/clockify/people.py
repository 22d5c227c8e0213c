"""Who logged an entry and in which zone its date is read: the user's ``settings.timeZone``
(read from the workspace's users, or ``GET /user`` for the key's own), else the connection's
``Access.extra["timezone"]``, else UTC. The key's user and the workspace's users are read once
per credential for ``kit.listed.KEPT_S`` (a capability is opened per change)."""

from dataclasses import dataclass

from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.clockify.client import ClockifyClient
from timebridge_providers.clockify.wire import User
from timebridge_providers.kit.listed import kept
from timebridge_providers.kit.zones import zone_name


@dataclass(frozen=True, slots=True)
class Person:
    email: str | None
    name: str | None
    zone: str


class People:
    def __init__(self, client: ClockifyClient, zone: str | None = None) -> None:
        self._client = client
        self._zone = zone
        self._me: User | None = None
        self._users: dict[str, User] | None = None

    async def me(self) -> User:
        if self._me is None:
            self._me = await kept(self._client.budget, "me", self._client.me)
        return self._me

    async def person(self, user_id: str) -> Person:
        me = await self.me()
        if user_id == me.id:
            found: User | None = me
        else:
            key = ("users", self._client.workspace_id)
            if self._users is None:
                self._users = await kept(self._client.budget, key, self._members)
                if user_id not in self._users:  # a member added since: read the list again
                    self._users = await kept(self._client.budget, key, self._members, again=True)
            found = self._users.get(user_id)
        if found is None:
            return Person(None, None, zone_name(self._zone))
        return Person(found.email, found.name, zone_name(found.zone or self._zone))

    async def _members(self) -> dict[str, User]:
        try:
            return {u.id: u async for u in self._client.users()}
        except AuthenticationError:  # a regular member may not list the workspace
            return {}
