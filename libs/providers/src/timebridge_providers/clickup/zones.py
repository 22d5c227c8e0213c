"""Whose time zone a ClickUp entry's date is read in.

``GET /user`` gives the token's own user's IANA zone; a workspace member's user object may carry
one too. A member without one is read in the token user's zone (the connection's owner, usually
in the same office), else UTC: a documented approximation, listed in the provider matrix.
"""

from timebridge_providers.clickup.client import ClickUpClient
from timebridge_providers.clickup.wire import User
from timebridge_providers.kit.listed import kept
from timebridge_providers.kit.zones import zone_name


class Zones:
    """The zone per user id, read once per connection use, or (``per_credential``: a writer's
    store, opened per change) once per credential for ``kit.listed.KEPT_S``, read again when a
    user is missing (a member added since)."""

    def __init__(self, client: ClickUpClient, *, per_credential: bool = False) -> None:
        self._client = client
        self._per_credential = per_credential
        self._zones: dict[int, str] | None = None
        self._default = "UTC"
        self.members: dict[int, User] = {}

    async def of(self, user_id: int) -> str:
        zones = await self._load()
        if user_id not in zones and self._per_credential:
            zones = await self._load(again=True)
        return zones.get(user_id, self._default)

    async def member_ids(self) -> list[int]:
        await self._load()
        return sorted(self.members)

    async def _load(self, *, again: bool = False) -> dict[int, str]:
        """The token user's zone (``GET /user``) and the members' (``GET /team``), once."""
        if self._zones is None or again:
            if self._per_credential:
                key = ("zones", self._client.identity)
                read = await kept(self._client.budget, key, self._read, again=again)
            else:
                read = await self._read()
            self._default, self.members, self._zones = read
        return self._zones

    async def _read(self) -> tuple[str, dict[int, User], dict[int, str]]:
        me = (await self._client.me()).user
        default = zone_name(me.timezone)
        team = await self._client.team()
        members = {m.user.id: m.user for m in team.members}
        zones = {
            uid: zone_name(u.timezone) if u.timezone else default for uid, u in members.items()
        }
        zones[me.id] = default
        return default, members, zones
