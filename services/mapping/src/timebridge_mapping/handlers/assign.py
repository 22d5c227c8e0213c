"""Assign a held entry by hand: the admin says who, on the other side, its person is.

An entry held by the ``queue`` policy waits for its person to be mapped. Assigning it maps that
person manually to the user the admin picked (a mapping wins over email matching, as on the
User Mapping screen), so the person's later entries sync too, and releases the integration's
held entries at once: the answer says whether this entry left the queue (a newer version waiting
for its sync slot, or a tracker refusing the write, keeps it held with its reason).
"""

from dataclasses import dataclass

from timebridge_common.refusals import NotFoundError
from timebridge_mapping.domain.direction import is_home
from timebridge_mapping.domain.mappings import HeldEntry
from timebridge_mapping.handlers.release import Releaser
from timebridge_mapping.handlers.setup import Setup


@dataclass(frozen=True)
class Assigned:
    entry: HeldEntry
    core_user_id: str
    tracker_user_id: str
    released: bool
    """Whether the entry left the queue (False: still held, see ``reason``)."""
    reason: str | None


@dataclass
class HeldAssignment:
    setup: Setup
    releaser: Releaser

    async def assign(
        self, workspace_id: str, integration_id: str, source: str, external_id: str, user_id: str
    ) -> Assigned:
        held = await self.setup.held(workspace_id, integration_id)
        found = next(
            (
                h
                for h in held
                if h.entry.key.source == source and h.entry.key.external_id == external_id
            ),
            None,
        )
        if found is None:
            raise NotFoundError(f"{source} entry {external_id} is not held for a user mapping")
        person = found.entry.fields.user.external_id
        if is_home(source, self.setup.providers.registry):
            core_user, tracker_user = person, user_id
        else:
            core_user, tracker_user = user_id, person
        await self.setup.map_user(workspace_id, integration_id, core_user, tracker_user)
        integration = await self.setup.connections.get(integration_id)
        if integration is not None:
            await self.releaser.release(integration)
        still = next(
            (
                h
                for h in await self.setup.held(workspace_id, integration_id)
                if h.entry.key == found.entry.key
            ),
            None,
        )
        return Assigned(
            found,
            core_user,
            tracker_user,
            released=still is None,
            reason=None if still is None else still.reason,
        )
