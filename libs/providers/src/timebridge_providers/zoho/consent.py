"""Which Zoho data centre a consent is for (Zoho's multi-DC OAuth).

V (zoho.com/accounts/protocol/oauth/multi-dc): an app with multi-DC support is sent back from
the consent with ``location`` (``us``, ``eu``, ``in``, ...) and ``accounts-server`` (that data
centre's accounts host, e.g. ``https://accounts.zoho.eu``); the code is exchanged, and the
tokens refreshed, at that server's ``/oauth/v2/token``, and the account's Projects API is on
the same domain (``https://projectsapi.zoho.eu``). Only Zoho's accounts hosts (or the one the
token URL is configured with: a sandbox) are taken, so the app's secret never goes elsewhere;
the server is kept with the connection (``accounts_server``) for its refreshes.
"""

from collections.abc import Mapping

import httpx

from timebridge_providers.kit.oauth import Consented, ConsentIncompleteError

ACCOUNTS_SERVER = "accounts_server"
"""The connection's data centre (its accounts host), kept for its refreshes."""
ZOHO_ACCOUNTS = frozenset({
    "accounts.zoho.com", "accounts.zoho.eu", "accounts.zoho.in", "accounts.zoho.com.au",
    "accounts.zoho.jp", "accounts.zohocloud.ca", "accounts.zoho.sa", "accounts.zoho.uk",
    "accounts.zoho.com.cn",
})  # fmt: skip
"""Zoho's accounts hosts, one per data centre."""


def _server(given: Mapping[str, str]) -> str:
    return (given.get("accounts-server") or given.get(ACCOUNTS_SERVER) or "").strip().rstrip("/")


def _checked(server: str, token_url: str) -> httpx.URL:
    try:
        url = httpx.URL(server)
    except httpx.InvalidURL:
        raise ConsentIncompleteError(f"Zoho named an unusable accounts server: {server}") from None
    zoho = url.scheme == "https" and url.host in ZOHO_ACCOUNTS and url.port is None
    configured = url.netloc == httpx.URL(token_url).netloc
    if url.path not in ("", "/") or not (zoho or configured):
        raise ConsentIncompleteError(f"Zoho named an accounts server that is not Zoho's: {server}")
    return url


def token_url_of(given: Mapping[str, str], token_url: str) -> str:
    """The data centre's token URL (the configured one when none is named)."""
    server = _server(given)
    if not server:
        return token_url
    url = _checked(server, token_url)
    return str(url.copy_with(path="/oauth/v2/token", query=None))


async def data_centre(
    consented: Consented,
    http: httpx.AsyncClient,  # noqa: ARG001 - the completion's signature
) -> tuple[str, dict[str, str]]:
    """The connection keeps its accounts server; a Zoho data centre's account uses that
    centre's Projects API (``projectsapi`` on the accounts host's domain)."""
    server = _server(consented.returned)
    if not server:
        return consented.base_url, dict(consented.extra)
    url = httpx.URL(server)
    base = httpx.URL(consented.base_url) if consented.base_url else None
    base_url = consented.base_url
    if url.host in ZOHO_ACCOUNTS and (base is None or base.host.startswith("projectsapi.zoho")):
        api_host = "projectsapi." + url.host.removeprefix("accounts.")
        base_url = f"https://{api_host}/restapi"
    return base_url, {**consented.extra, ACCOUNTS_SERVER: server}
