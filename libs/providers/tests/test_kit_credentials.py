"""The kit's credential port: the fake, ``oauth_of``, and the HTTP adapter's cache and errors
(on a mock transport; the adapter against the real service is in tests/integration)."""

import datetime as dt
import json
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr
from timebridge_providers.installed import registry
from timebridge_providers.kit.credentials import (
    HttpCredentialSource,
    NeedsReauthorisationError,
    OAuthApp,
    OAuthDescription,
    UnknownCredentialError,
    form_basic_auth,
    oauth_of,
)
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource
from timebridge_providers.kit.registry import Provider

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.outbound.oauth import TokenEndpoint, Tokens

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


async def test_fake_hands_out_what_was_put_and_raises_what_was_set() -> None:
    fake = FakeCredentialSource()
    fake.put("acme", "c1", "key-1", base_url="https://x.test", extra={"account": "7"})
    access = await fake.access("acme", "c1")
    assert (access.base_url, access.credential, dict(access.extra)) == (
        "https://x.test",
        "key-1",
        {"account": "7"},
    )
    with pytest.raises(UnknownCredentialError):
        await fake.access("globex", "c1")
    fake.fail("acme", "c1", NeedsReauthorisationError("revoked"))
    with pytest.raises(NeedsReauthorisationError):
        await fake.access("acme", "c1")
    assert fake.calls == [("acme", "c1"), ("globex", "c1"), ("acme", "c1")]
    await fake.refused("acme", "c1", "401")
    assert fake.refusals == [("acme", "c1", "401")]
    with pytest.raises(UnknownCredentialError):
        await fake.refused("globex", "c1", "401")


@dataclass(frozen=True, slots=True)
class _WithOAuth(Provider):
    oauth: OAuthDescription | None = None


def test_oauth_of_reads_the_description_when_a_provider_has_one() -> None:
    core = registry().home()
    assert oauth_of(core) is None
    described = _WithOAuth(core.profile, core.check, oauth=OAuthDescription("https://t.test"))
    assert oauth_of(described) == OAuthDescription("https://t.test")


def test_the_app_token_url_overrides_the_providers() -> None:
    seen: list[str] = []

    def factory(name: str, app: OAuthApp, url: str, http: httpx.AsyncClient) -> TokenEndpoint:
        seen.append(url)
        return form_basic_auth(name, app, url, http)

    description = OAuthDescription("https://prod.test/token", factory)
    app = OAuthApp("id", SecretStr("secret"), token_url="http://sandbox.test/token")
    description.open("p", app, httpx.AsyncClient())
    description.open("p", OAuthApp("id", SecretStr("secret")), httpx.AsyncClient())
    assert seen == ["http://sandbox.test/token", "https://prod.test/token"]


def _source(handler: httpx.MockTransport, clock_at: list[dt.datetime]) -> HttpCredentialSource:
    return HttpCredentialSource(
        "http://credentials.test",
        SecretStr("svc"),
        http=httpx.AsyncClient(transport=handler),
        clock=lambda: clock_at[0],
    )


async def test_http_adapter_caches_until_shortly_before_expiry() -> None:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        body = {
            "credential": f"at-{len(asked)}",
            "base_url": "",
            "extra": {},
            "expires_at": (NOW + dt.timedelta(minutes=10)).isoformat(),
        }
        return httpx.Response(200, json=body)

    clock = [NOW]
    source = _source(httpx.MockTransport(answer), clock)
    assert (await source.access("acme", "c1")).credential == "at-1"
    assert asked[0].headers["authorization"] == "Bearer svc"
    assert asked[0].url.path == "/v1/workspaces/acme/connections/c1/access"
    clock[0] = NOW + dt.timedelta(seconds=59)  # within the 60 s key TTL: cached
    assert (await source.access("acme", "c1")).credential == "at-1"
    clock[0] = NOW + dt.timedelta(seconds=61)
    assert (await source.access("acme", "c1")).credential == "at-2"
    assert len(asked) == 2


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (409, {}, NeedsReauthorisationError),
        (404, {}, UnknownCredentialError),
        (503, {"retry-after": "12"}, TransientError),
        (500, {}, TransientError),
    ],
)
async def test_http_adapter_maps_refusals(
    status: int, headers: dict[str, str], error: type[Exception]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=json.dumps({"detail": "why"}))

    source = _source(httpx.MockTransport(answer), [NOW])
    with pytest.raises(error) as raised:
        await source.access("acme", "c1")
    if "retry-after" in headers:
        assert isinstance(raised.value, TransientError)
        assert raised.value.retry_after == 12


async def test_http_keeper_puts_moves_and_deletes_and_forgets_what_it_cached() -> None:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if request.url.path.endswith("/access"):
            body = {"credential": f"at-{len(asked)}", "base_url": "", "extra": {}}
            return httpx.Response(200, json=body)
        if request.method == "DELETE" and request.url.path.endswith("/gone"):
            return httpx.Response(404, json={"detail": "no credential"})
        return httpx.Response(204 if request.method == "DELETE" else 200, json={})

    source = _source(httpx.MockTransport(answer), [NOW])
    tokens = Tokens("at-0", "rt-0", NOW + dt.timedelta(hours=1))
    await source.access("acme", "c1")
    await source.put_tokens("acme", "c1", "quickbooks", tokens, extra={"realm": "9"})
    put = asked[-1]
    assert (put.method, put.url.path) == ("PUT", "/v1/workspaces/acme/connections/c1")
    assert json.loads(put.content) == {
        "provider": "quickbooks",
        "base_url": "",
        "extra": {"realm": "9"},
        "credential": {
            "kind": "oauth2",
            "access_token": "at-0",
            "refresh_token": "rt-0",
            "expires_at": tokens.expires_at.isoformat(),
        },
    }
    assert (await source.access("acme", "c1")).credential == "at-3", "the cache was dropped"
    await source.move("acme", "c1", "c2")
    assert json.loads(asked[-1].content) == {"to": "c2"}
    assert asked[-1].url.path == "/v1/workspaces/acme/connections/c1/move"
    await source.delete("acme", "gone")  # nothing held is no error
    await source.delete("acme", "c2")
    assert [r.method for r in asked[-2:]] == ["DELETE", "DELETE"]


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, TransientError), (404, UnknownCredentialError), (422, InvalidMessageError)],
)
async def test_http_keeper_maps_refusals(status: int, error: type[Exception]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"detail": "why"})

    source = _source(httpx.MockTransport(answer), [NOW])
    with pytest.raises(error):
        await source.move("acme", "c1", "c2")


async def test_fake_keeper_moves_tokens_and_forgets_them() -> None:
    fake = FakeCredentialSource()
    tokens = Tokens("at", "rt", NOW)
    await fake.put_tokens("acme", "pending", "quickbooks", tokens)
    await fake.move("acme", "pending", "c1")
    await fake.move("acme", "pending", "c1")  # a retried move
    assert (await fake.access("acme", "c1")).credential == "at"
    assert fake.tokens == {("acme", "c1"): tokens}
    await fake.delete("acme", "c1")
    with pytest.raises(UnknownCredentialError):
        await fake.access("acme", "c1")


async def test_http_keeper_puts_a_key_as_api_key_and_forgets_what_it_cached() -> None:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        body = {"credential": f"k-{len(asked)}", "base_url": "", "extra": {}}
        return httpx.Response(200, json=body)

    source = _source(httpx.MockTransport(answer), [NOW])
    await source.access("acme", "int_1")
    await source.put_key(
        "acme", "int_1", "harvest", "pat-1", base_url="https://h.test", extra={"account_id": "7"}
    )
    put = asked[-1]
    assert (put.method, put.url.path) == ("PUT", "/v1/workspaces/acme/connections/int_1")
    assert json.loads(put.content) == {
        "provider": "harvest",
        "base_url": "https://h.test",
        "extra": {"account_id": "7"},
        "credential": {"kind": "api_key", "secret": "pat-1"},
    }
    assert (await source.access("acme", "int_1")).credential == "k-3", "the cache was dropped"


async def test_fake_keeper_hands_out_a_put_key_in_place_of_tokens() -> None:
    fake = FakeCredentialSource()
    await fake.put_tokens("acme", "c1", "zoho", Tokens("at", "rt", NOW))
    await fake.put_key("acme", "c1", "harvest", "pat", extra={"account_id": "7"})
    access = await fake.access("acme", "c1")
    assert (access.credential, access.extra) == ("pat", {"account_id": "7"})
    assert (fake.tokens, fake.providers) == ({}, {("acme", "c1"): "harvest"})
