"""User mapping: who an entry belongs to on the other side (the guide's "User Mapping").

Users are matched automatically by email, compared case-insensitively, and a manual mapping wins
over any email match: a user who is manually mapped takes part in no email match, on either
side. An email that several users of one side share matches nobody (guessing could put hours on
the wrong person's timesheet). A user nobody maps falls to the integration's unmapped-user
policy: skip the entry, give it to the default user, or hold it until a mapping appears.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from timebridge_common.events import IntegrationSettings, UserRef
from timebridge_mapping.domain.outcomes import NotMapped, UserMappedBy

Side = Literal["core", "tracker"]


def normalize_email(email: str | None) -> str | None:
    """The form two emails are compared in: ``Ann@Acme.test `` and ``ann@acme.test`` match."""
    normalized = (email or "").strip().casefold()
    return normalized or None


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    id: str
    email: str | None = None
    name: str | None = None

    def ref(self) -> UserRef:
        return UserRef(external_id=self.id, email=self.email, name=self.name)


@dataclass(frozen=True, slots=True)
class UserPair:
    core: DirectoryUser
    tracker: DirectoryUser
    matched_by: Literal["email", "manual"]

    def side(self, side: Side) -> DirectoryUser:
        return self.core if side == "core" else self.tracker


@dataclass(frozen=True, slots=True)
class UserDirectory:
    """One integration's users on both sides, as last read, and its manual mappings."""

    core: tuple[DirectoryUser, ...] = ()
    tracker: tuple[DirectoryUser, ...] = ()
    manual: tuple[tuple[str, str], ...] = ()
    """(Core user id, tracker user id) pairs set by an admin."""

    def pairs(self) -> list[UserPair]:
        """Every mapping in force: the manual ones first, then the email matches."""
        core = {u.id: u for u in self.core}
        tracker = {u.id: u for u in self.tracker}
        pairs = [
            UserPair(core.get(c, DirectoryUser(c)), tracker.get(t, DirectoryUser(t)), "manual")
            for c, t in self.manual
        ]
        manual_core = {c for c, _ in self.manual}
        manual_tracker = {t for _, t in self.manual}
        trackers = _by_unique_email(u for u in self.tracker if u.id not in manual_tracker)
        for email, user in _by_unique_email(
            u for u in self.core if u.id not in manual_core
        ).items():
            if email in trackers:
                pairs.append(UserPair(user, trackers[email], "email"))
        return pairs

    def unmapped(self) -> tuple[list[DirectoryUser], list[DirectoryUser]]:
        """The Core users and the tracker users no mapping covers (the guide: "Map all users")."""
        pairs = self.pairs()
        core = {p.core.id for p in pairs}
        tracker = {p.tracker.id for p in pairs}
        return (
            [u for u in self.core if u.id not in core],
            [u for u in self.tracker if u.id not in tracker],
        )

    def users(self, side: Side) -> tuple[DirectoryUser, ...]:
        return self.core if side == "core" else self.tracker

    def find(self, side: Side, user_id: str) -> DirectoryUser | None:
        return next((u for u in self.users(side) if u.id == user_id), None)

    def knowing(self, side: Side, user: UserRef) -> "UserDirectory":
        """The directory with ``user`` added if it is not in it yet.

        A user created after the last refresh still carries their email on the entry, so the
        email match does not have to wait for the next refresh of this side.
        """
        if self.find(side, user.external_id) is not None:
            return self
        added = DirectoryUser(user.external_id, user.email, user.name)
        if side == "core":
            return replace(self, core=(*self.core, added))
        return replace(self, tracker=(*self.tracker, added))


def _by_unique_email(users: Iterable[DirectoryUser]) -> dict[str, DirectoryUser]:
    with_email = [(normalize_email(u.email), u) for u in users]
    counts = Counter(email for email, _ in with_email if email)
    return {email: u for email, u in with_email if email and counts[email] == 1}


@dataclass(frozen=True, slots=True)
class MappedUser:
    user: UserRef
    by: UserMappedBy


def match_user(directory: UserDirectory, user: UserRef, *, source: Side) -> MappedUser | None:
    """The other side's user mapped to ``user`` (of side ``source``), manually or by email."""
    target = _other(source)
    for pair in directory.knowing(source, user).pairs():
        if pair.side(source).id == user.external_id:
            return MappedUser(pair.side(target).ref(), pair.matched_by)
    return None


def unmapped_user(
    directory: UserDirectory,
    user: UserRef,
    *,
    source: Side,
    settings: IntegrationSettings,
    deleted: bool,
    tracker: str,
) -> MappedUser | NotMapped:
    """What the integration's unmapped-user policy makes of an entry of an unmapped ``user``.

    A deletion is never held: there is nothing left to assign, and the entry, held or not, was
    never written to the other side with this user.
    """
    target = _other(source)
    names = {"core": "Core", "tracker": tracker}
    who = f"{names[source]} user {user.external_id}" + (f" <{user.email}>" if user.email else "")
    unmapped = f"no {names[target]} user is mapped to {who}"
    policy = settings.unmapped_user_policy
    if policy == "default_user":
        default = (
            settings.default_tracker_user_id if source == "core" else settings.default_core_user_id
        )
        if default is None:
            return NotMapped("skipped", f"{unmapped} and no default {names[target]} user is set")
        found = directory.find(target, default) or DirectoryUser(default)
        return MappedUser(found.ref(), "default_user")
    if deleted:
        return NotMapped("skipped", f"{unmapped}; the entry was deleted before it could sync")
    if policy == "queue":
        return NotMapped("queued", f"{unmapped}; held until one is")
    return NotMapped("skipped", f"{unmapped} (unmapped-user policy: skip)")


def _other(side: Side) -> Side:
    return "tracker" if side == "core" else "core"
