"""An in-memory provider to observe: entries kept by id, a change feed with deletions, hooks.

Services' handlers get fast unit tests against it; tests change ``entries`` (``put``/``delete``)
and disable hooks (``hooks.disable``) to play the provider.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.ports.observe import (
    Change,
    ChangePage,
    Hint,
    HookState,
    RefusedError,
    Signed,
)


@dataclass
class FakeHooks:
    """Registered hooks by id; ``active`` False once the provider disabled one."""

    targets: dict[str, str] = field(default_factory=dict)
    active: dict[str, bool] = field(default_factory=dict)
    secrets: dict[str, str | None] = field(default_factory=dict)
    """The secret proposed at each registration."""
    _next: int = 1

    async def register(self, target_url: str, secret: str | None = None) -> HookState:
        hook_id = str(self._next)
        self._next += 1
        self.targets[hook_id], self.active[hook_id] = target_url, True
        self.secrets[hook_id] = secret
        return HookState(hook_id, True)

    async def delete(self, hook_id: str) -> None:
        self.targets.pop(hook_id, None)
        self.active.pop(hook_id, None)

    async def ensure_active(self, hook_id: str) -> HookState | None:
        if hook_id not in self.targets:
            return None
        if self.active[hook_id]:
            return HookState(hook_id, True)
        target = self.targets[hook_id]
        await self.delete(hook_id)
        return await self.register(target)

    def disable(self, hook_id: str) -> None:
        """What a provider does after failed deliveries."""
        self.active[hook_id] = False


@dataclass
class FakeObserver:
    """Entries by id; every change gets a sequence number, the cursor is the last one seen."""

    entries: dict[str, Change] = field(default_factory=dict)
    hooks: FakeHooks | None = field(default_factory=FakeHooks)
    _log: list[tuple[int, str]] = field(default_factory=list)
    polls: int = 0

    def put(self, external_id: str, fields: TimeEntryFields, at: dt.datetime) -> None:
        self.entries[external_id] = Change(external_id, fields, at)
        self._log.append((len(self._log) + 1, external_id))

    def delete(self, external_id: str, at: dt.datetime) -> None:
        gone = self.entries[external_id]
        self.entries[external_id] = Change(external_id, gone.fields, at, deleted=True)
        self._log.append((len(self._log) + 1, external_id))

    async def changes(
        self,
        cursor: str | None,
        *,
        now: dt.datetime,  # noqa: ARG002 - the fake has a change feed
        lookback: dt.timedelta,  # noqa: ARG002
    ) -> ChangePage:
        self.polls += 1
        after = int(cursor or 0)
        ids = list(dict.fromkeys(i for seq, i in self._log if seq > after))
        return ChangePage([self.entries[i] for i in ids], str(len(self._log)))

    async def reread(
        self,
        hints: Sequence[Hint],
        *,
        now: dt.datetime,  # noqa: ARG002
    ) -> list[Change]:
        return [self.entries[h.external_id] for h in hints if h.external_id in self.entries]


@dataclass
class FakeHintWebhooks:
    """Deliveries whose body is ``<id>|<date>|<user>``; a handshake header ``X-Hook-Secret``."""

    scheme: Literal["hint"] = "hint"

    def handshake(self, headers: Mapping[str, str]) -> dict[str, str] | None:
        secret = next((v for k, v in headers.items() if k.lower() == "x-hook-secret"), None)
        return None if secret is None else {"X-Hook-Secret": secret}

    def authenticate(
        self,
        secret: str | None,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime,
        tolerance_s: int,
    ) -> Signed | None:
        """Unsigned, like Everhour's."""
        del secret, headers, body, now, tolerance_s
        return None

    def hint(self, body: bytes) -> Hint:
        try:
            external_id, day, user = body.decode().split("|")
            return Hint(external_id, dt.date.fromisoformat(day), user)
        except ValueError as exc:
            raise RefusedError(422, f"not a delivery: {exc}") from exc
