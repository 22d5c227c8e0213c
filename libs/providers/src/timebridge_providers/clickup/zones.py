"""Whose time zone a ClickUp entry's date is read in.

``GET /user`` gives the token's own user's IANA zone; a workspace member's user object may carry
one too. A member without one is read in the token user's zone (the connection's owner, usually
in the same office), else UTC: a documented approximation, listed in the provider matrix.
"""

from timebridge_providers.clickup.client import ClickUpClient
from timebridge_providers.clickup.wire import User
from timebridge_providers.kit.zones import zone_name


class Zones:
    """The zone per user id, read once per connection use."""

    def __init__(self, client: ClickUpClient) -> None:
        self._client = client
        self._zones: dict[int, str] | None = None
        self._default = "UTC"
        self.members: dict[int, User] = {}

    async def of(self, user_id: int) -> str:
        zones = await self._load()
        return zones.get(user_id, self._default)

    async def member_ids(self) -> list[int]:
        await self._load()
        return sorted(self.members)

    async def _load(self) -> dict[int, str]:
        """The token user's zone (``GET /user``) and the members' (``GET /team``), once."""
        if self._zones is None:
            me = (await self._client.me()).user
            self._default = zone_name(me.timezone)
            team = await self._client.team()
            self.members = {m.user.id: m.user for m in team.members}
            zones = {
                uid: zone_name(u.timezone) if u.timezone else self._default
                for uid, u in self.members.items()
            }
            zones[me.id] = self._default
            self._zones = zones
        return self._zones
