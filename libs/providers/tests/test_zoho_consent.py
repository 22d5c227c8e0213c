"""Zoho's data centre from the consent's callback (``location``, ``accounts-server``): the code
and every refresh go to that centre's accounts server, the account's Projects API is on its
domain; only Zoho's accounts hosts (or the configured token URL's host: a sandbox) are taken,
so the app's secret never goes elsewhere."""

import httpx
import pytest
from timebridge_providers.kit.oauth import Consented, ConsentIncompleteError
from timebridge_providers.zoho.consent import ACCOUNTS_SERVER, data_centre, token_url_of

US = "https://accounts.zoho.com/oauth/v2/token"
API = "https://projectsapi.zoho.com/restapi"


def test_the_token_url_is_the_named_data_centres() -> None:
    eu = {"location": "eu", "accounts-server": "https://accounts.zoho.eu"}
    assert token_url_of(eu, US) == "https://accounts.zoho.eu/oauth/v2/token"
    assert token_url_of({ACCOUNTS_SERVER: "https://accounts.zoho.in"}, US) == (
        "https://accounts.zoho.in/oauth/v2/token"
    )  # a stored connection's refreshes
    assert token_url_of({}, US) == US
    sandbox = "http://127.0.0.1:8115/oauth/v2/token"
    assert token_url_of({"accounts-server": "http://127.0.0.1:8115"}, sandbox) == sandbox


@pytest.mark.parametrize(
    "server",
    [
        "https://evil.example",
        "http://accounts.zoho.eu",
        "https://accounts.zoho.eu.evil.example",
        "https://accounts.zoho.eu:444",
        "https://accounts.zoho.eu/steal",
        "not a url",
    ],
)
def test_another_server_is_refused(server: str) -> None:
    with pytest.raises(ConsentIncompleteError, match="Zoho"):
        token_url_of({"accounts-server": server}, US)


async def test_the_connection_keeps_its_data_centre_and_uses_its_api() -> None:
    eu = {"location": "eu", "accounts-server": "https://accounts.zoho.eu"}
    consented = Consented("t", API, {"portal_id": "1"}, {}, eu)
    async with httpx.AsyncClient() as http:
        base, extra = await data_centre(consented, http)
        assert base == "https://projectsapi.zoho.eu/restapi"
        assert extra == {"portal_id": "1", ACCOUNTS_SERVER: "https://accounts.zoho.eu"}
        sandbox = Consented("t", "http://127.0.0.1:8115/restapi", {}, {}, {
            "accounts-server": "http://127.0.0.1:8115"
        })  # fmt: skip
        assert (await data_centre(sandbox, http))[0] == "http://127.0.0.1:8115/restapi"
        assert await data_centre(Consented("t", API, {}, {}, {}), http) == (API, {})
