"""Wrike's data center from the consent's token answer (``host``): a Wrike host or the API
host already configured is taken (https for Wrike's); any other host is refused, so the tokens
are never sent elsewhere."""

import httpx
import pytest
from timebridge_providers.kit.oauth import Consented, ConsentIncompleteError
from timebridge_providers.wrike.consent import data_center

DEFAULT = "https://www.wrike.com/api/v4"


async def done(base_url: str, host: str | None) -> str:
    answer = {} if host is None else {"host": host}
    consented = Consented("token", base_url, {"a": "b"}, answer)
    async with httpx.AsyncClient() as http:
        url, extra = await data_center(consented, http)
    assert extra == {"a": "b"}
    return url


async def test_the_answers_wrike_host_is_the_api_host() -> None:
    assert await done(DEFAULT, "app-eu.wrike.com") == "https://app-eu.wrike.com/api/v4"
    assert await done(DEFAULT, "www.wrike.com") == DEFAULT
    assert await done(DEFAULT, None) == DEFAULT  # none named: as configured
    sandbox = "http://127.0.0.1:8111/api/v4"
    assert await done(sandbox, "127.0.0.1:8111") == sandbox  # the configured host (make dev)


@pytest.mark.parametrize(
    "host", ["evil.example", "wrike.com.evil.example", "127.0.0.1:9999", "a b", "x/y"]
)
async def test_another_host_is_refused(host: str) -> None:
    with pytest.raises(ConsentIncompleteError, match="not Wrike's"):
        await done("http://127.0.0.1:8111/api/v4", host)
