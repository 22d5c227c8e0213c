"""What every provider's conformance test wrote again around the scenarios, said once.

- :func:`answering_client`: the HTTP client a :class:`~.rig.Rig` sends through, recording the
  status of each answer the provider's API gave (not the sandbox's own ``/_sandbox`` controls) in
  the rig's ``answers``, so the retry scenarios can see the 429 and the 5xx.
- :func:`run`: one scenario on a rig; a scenario the provider does not offer must be declared so
  (with the reason in the test), and one declared that raises nothing simply passes.
- :class:`Polled`: the webhook half of a :class:`~.rig.Control` for a provider that sends none.

No pytest here (the kit holds none): a test skips with the reason :func:`run` returns.
"""

import datetime as dt
from collections.abc import Awaitable, Callable, Collection

import httpx

from timebridge_providers.kit.conformance.rig import Captured, NotOffered, Rig

SANDBOX_CONTROLS = "/_sandbox"


def answering_client(transport: httpx.AsyncBaseTransport, answers: list[int]) -> httpx.AsyncClient:
    """A client through ``transport`` appending each API answer's status to ``answers``."""

    async def on_response(response: httpx.Response) -> None:
        if not response.request.url.path.startswith(SANDBOX_CONTROLS):
            answers.append(response.status_code)

    return httpx.AsyncClient(transport=transport, event_hooks={"response": [on_response]})


async def run(
    scenario: Callable[[Rig], Awaitable[None]], rig: Rig, not_offered: Collection[str]
) -> str | None:
    """Run ``scenario`` on ``rig``: ``None`` when it passed, the reason when the provider does not
    offer it and ``not_offered`` names it (the caller skips). Not offered but not declared so is
    a failure: a capability was lost."""
    try:
        await scenario(rig)
    except NotOffered as reason:
        if getattr(scenario, "__name__", "") not in not_offered:
            raise AssertionError(f"not offered any more: {reason}") from None
        return str(reason)
    return None


class Polled:
    """The webhook side of a :class:`~.rig.Control` for a provider that sends no (signed)
    webhooks: every webhook step is :class:`NotOffered` with ``no_webhooks`` as the reason."""

    no_webhooks = "polled: no signed webhooks"

    async def deliveries(self) -> list[Captured]:
        raise NotOffered(self.no_webhooks)

    def sign(self, body: bytes, at: dt.datetime, *, secret: str | None = None) -> str:  # noqa: ARG002
        raise NotOffered(self.no_webhooks)

    @property
    def webhook_secret(self) -> str:
        return ""

    @property
    def account(self) -> str:
        """No delivery to be about (a subclass may name its account anyway)."""
        return ""
