"""The conformance runner: a scenario not offered must be declared so, with its reason."""

import httpx
import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.conformance import NotOffered, Rig, Work
from timebridge_providers.kit.conformance.running import Polled, answering_client, run


async def passes(rig: Rig) -> None:
    del rig


async def webhooks(rig: Rig) -> None:
    await rig.control.deliveries()


class _Control(Polled):
    no_webhooks = "polled here"


@pytest.fixture
async def rig() -> Rig:
    answers: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204 if request.url.path.startswith("/_sandbox") else 429)

    http = answering_client(httpx.MockTransport(handler), answers)
    await http.get("http://t.test/_sandbox/reset")
    await http.get("http://t.test/api")
    assert answers == [429]  # the sandbox's own controls are not the provider's answers
    await http.aclose()
    return Rig(
        provider=registry().get("harvest"),
        base_url="http://t.test",
        credential="k",
        http=http,
        control=_Control(),  # type: ignore[arg-type]  # only the webhook half is exercised
        work=Work("1", None, "2", "3", "UTC"),
        answers=answers,
    )


async def test_passed_is_none_declared_is_its_reason_undeclared_fails(rig: Rig) -> None:
    assert await run(passes, rig, {"webhooks"}) is None
    assert await run(webhooks, rig, {"webhooks"}) == "polled here"
    with pytest.raises(AssertionError, match="not offered any more: polled here"):
        await run(webhooks, rig, set())
    assert rig.control.webhook_secret == ""
    with pytest.raises(NotOffered):
        rig.control.sign(b"", rig.clock.utcnow())
