"""Observing changes: an incremental poll that also sees deletions, re-reading records, webhooks.

A provider offers it as :class:`Observing` (the registry's ``observe=``): called with a session it
opens an :class:`Observer`; its ``webhooks`` (when the provider has any) need no session, since a
delivery is judged before anyone knows whose credential to use. Two webhook schemes exist:

- ``signed`` (:class:`SignedWebhooks`, Core): the delivery carries the change and a signature over
  the body with a shared secret; once verified it is published as it is.
- ``hint`` (:class:`HintWebhooks`, Everhour, ClickUp, Clockify, Wrike, Hubstaff): deliveries to
  an unguessable URL whose content is not trusted as the entry: a :class:`Hint` names a record to
  re-read through the API (:meth:`Observer.reread`; Hubstaff's names a user's day on a task, its
  records being daily activities). A provider that signs them (ClickUp ``X-Signature``, Clockify
  ``Clockify-Signature``, Wrike ``X-Request-Hash``, Hubstaff ``X-Hook-Signature``) is checked
  first with the hook's secret (:meth:`HintWebhooks.authenticate`). A handshake that needs the
  secret or hands one over is a :class:`KeyedHandshake` (Wrike, Hubstaff); a batch of events
  names several records (:func:`hints_of`).

A tracker registers its hooks per connection (:class:`HookAdmin`), whichever the scheme (Toggl's
signed subscriptions too): the receiver keeps the secret the hook signs with (the one it proposed,
the one the provider answered with: :attr:`HookState.secret`, or the one its handshake handed
over, which then activates the hook: :class:`ActivatesHooks`). A provider may disable a hook
after failed deliveries: :meth:`HookAdmin.ensure_active` notices it and re-activates it, and the
caller re-polls the gap.
"""

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from timebridge_common.events import TimeEntryFields
from timebridge_common.events.base import Event
from timebridge_providers.kit.session import Session


class RefusedError(Exception):
    """A request that cannot be accepted: ``status`` is the HTTP answer (4xx), ``reason`` why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Change:
    """One entry as the provider has it now; ``deleted`` once it is gone."""

    external_id: str
    fields: TimeEntryFields
    updated_at: dt.datetime
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ChangePage:
    """Changes since a cursor, and the cursor to ask from next time (opaque to the caller)."""

    changes: list[Change]
    cursor: str


@dataclass(frozen=True, slots=True)
class Hint:
    """An unsigned delivery's claim that a record changed: what to re-read, never trusted.

    ``user_id`` and ``task_id`` are what the record was last known under: a record found gone is
    reported deleted with them.
    """

    external_id: str
    date: dt.date
    user_id: str
    task_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A verified signed delivery: its id (kept across the sender's retries), when it was signed,
    and the change it carries (``None``: acknowledged, nothing to publish)."""

    delivery_id: str
    signed_at: dt.datetime
    change: Change | None
    fact: Event | None = None
    """A record other than a time entry, as the event to publish instead of ``change`` (the home
    system's contracts and milestones: ``ContractObserved``, ``MilestoneObserved``)."""
    reply: Mapping[str, str] | None = None
    """The JSON object to answer with (200) instead of accepting: a validation ping's echo
    (Toggl's ``validation_code``)."""


@dataclass(frozen=True, slots=True)
class Signed:
    """What a hint delivery's signature vouches for: its id, kept across the provider's retries
    (the replay key), and when the change was made (its age)."""

    delivery_id: str
    signed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class HookState:
    """A webhook registered at the provider: its id, whether the provider still calls it, and
    the secret its deliveries are signed with (``None``: unsigned, or the one proposed)."""

    hook_id: str
    active: bool
    secret: str | None = None
    target_url: str | None = None
    """Where it delivers, when the provider lists it (the receiver keeps a secret by its URL)."""


class Observer(Protocol):
    """One connection's changes, read through its session."""

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        """Changes since ``cursor`` (``None``: the first poll), deletions included.

        ``lookback`` is how far back a provider without a change feed compares its records
        (deletions older than that are not seen); a provider with one ignores it.
        """
        ...

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        """The records the hints name, as the provider has them now (deleted if gone); a record
        that cannot be judged (on a task that no longer exists) is left out."""
        ...

    @property
    def hooks(self) -> "HookAdmin | None":
        """Registering this connection's webhooks, for a provider whose hooks are per connection."""
        ...


class HookAdmin(Protocol):
    """A connection's webhooks at the provider (``hint`` scheme)."""

    async def register(self, target_url: str, secret: str | None = None) -> HookState:
        """Register ``target_url``; the provider's handshake reaches it before this returns.

        ``secret`` is what the hook should sign with where the provider takes one (Toggl); a
        provider that picks its own answers it in :attr:`HookState.secret` (ClickUp, Clockify),
        one that signs nothing ignores it (Everhour).
        """
        ...

    async def delete(self, hook_id: str) -> None: ...

    async def ensure_active(self, hook_id: str) -> HookState | None:
        """The hook, re-activated if the provider disabled it (a new id then); ``None`` when it
        is gone (the caller registers a new one)."""
        ...


class SignedWebhooks(Protocol):
    """Deliveries signed with a shared secret, carrying the change itself."""

    scheme: Literal["signed"]
    signature_header: str

    def verify(
        self,
        secret: str,
        signature: str | None,
        body: bytes,
        *,
        account: str,
        now: dt.datetime,
        tolerance_s: int,
    ) -> Delivery:
        """The delivery, once ``signature`` signs ``body`` within the tolerance and the body is
        about ``account`` (``""``: the hook's secret already binds it to one account); else
        :class:`RefusedError` (401 signature, 400/422 body)."""
        ...


class ReadsDeliveries(Protocol):
    """An observer that renders a verified signed delivery as its poll would (a tracker whose
    delivery lacks what the poll adds: the member's zone, email and name), so a webhook and a
    poll of the same change are the same content and the same event."""

    async def delivered(self, body: bytes) -> Change | None:
        """The change the (verified) ``body`` carries, or ``None`` (nothing to publish)."""
        ...


def delivery_reader(observer: object) -> ReadsDeliveries | None:
    """``observer`` if it renders deliveries itself, else ``None`` (the delivery's change is
    published as :meth:`SignedWebhooks.verify` made it)."""
    delivered = getattr(observer, "delivered", None)
    return observer if callable(delivered) else None  # type: ignore[return-value]


class HintWebhooks(Protocol):
    """Unsigned deliveries to a secret URL, each a hint to re-read a record."""

    scheme: Literal["hint"]

    def handshake(self, headers: Mapping[str, str]) -> dict[str, str] | None:
        """The headers answering the provider's registration handshake; ``None`` for a delivery."""
        ...

    def hint(self, body: bytes) -> Hint:
        """What the delivery names, or :class:`RefusedError` (422) if it names nothing storable."""
        ...

    def authenticate(
        self,
        secret: str | None,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime,
        tolerance_s: int,
    ) -> Signed | None:
        """Check the delivery against the hook's ``secret`` (constant time): :class:`RefusedError`
        401 when the signature is missing, wrong or stale. ``None``: the provider signs nothing
        (the URL is the secret) or nothing about the delivery's time and id (no replay key)."""
        ...


@dataclass(frozen=True, slots=True)
class HandshakeAnswer:
    """The headers answering a registration handshake, and the secret the provider handed over
    in it (Hubstaff's ``X-Hook-Secret``: the receiver keeps it; ``None``: nothing to keep)."""

    headers: dict[str, str]
    secret: str | None = None


class KeyedHandshake(Protocol):
    """A hint intake whose handshake needs the hook's secret or the body (Wrike answers with the
    HMAC of its random value; Hubstaff hands its secret over), offered besides ``handshake``."""

    def keyed_handshake(
        self, secret: str | None, headers: Mapping[str, str], body: bytes
    ) -> HandshakeAnswer | None:
        """The answer to a handshake (``None``: a delivery); :class:`RefusedError` if it cannot
        be answered."""
        ...


def keyed_handshake(webhooks: object) -> KeyedHandshake | None:
    """``webhooks`` if its handshake is keyed, else ``None`` (``handshake(headers)`` answers)."""
    keyed = getattr(webhooks, "keyed_handshake", None)
    return webhooks if callable(keyed) else None  # type: ignore[return-value]


def hints_of(webhooks: HintWebhooks, body: bytes) -> list[Hint]:
    """Every record a delivery names: a provider batching events (Wrike's array) offers
    ``hints(body)``; otherwise the one :meth:`HintWebhooks.hint` names."""
    many = getattr(webhooks, "hints", None)
    if callable(many):
        found: list[Hint] = many(body)
        return found
    return [webhooks.hint(body)]


class ActivatesHooks(Protocol):
    """Hook admin of a provider whose hook delivers only once activated with the secret its
    handshake handed over (Hubstaff): the receiver keeps that secret, then calls this."""

    async def activate(self, hook_id: str, secret: str) -> HookState: ...


def hook_activation(hooks: object) -> ActivatesHooks | None:
    activate = getattr(hooks, "activate", None)
    return hooks if callable(activate) else None  # type: ignore[return-value]


Webhooks = SignedWebhooks | HintWebhooks


@dataclass(frozen=True, slots=True)
class Observing:
    """The observe capability as registered: opens an :class:`Observer` on a session, and holds
    the provider's webhook intake (``None``: the provider has no webhooks; it is polled)."""

    open: Callable[[Session], Observer]
    webhooks: Webhooks | None = None

    def __call__(self, session: Session) -> Observer:
        return self.open(session)


def webhooks_of(observe: object) -> Webhooks | None:
    """The webhook intake of a provider's ``observe`` capability, if it has one."""
    return observe.webhooks if isinstance(observe, Observing) else None
