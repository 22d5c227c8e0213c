"""Which Wrike data center a consent's tokens are for.

V (developers.wrike.com/oauth-20-authorization): the token answer carries ``host``, the
account's data center (``www.wrike.com``, ``app-eu.wrike.com``, ...); API calls go to
``https://<host>/api/v4`` with those tokens. The host is taken when it is a Wrike host or the
API host already configured (a sandbox); any other host is refused, so tokens never go
anywhere else.
"""

import re

import httpx

from timebridge_providers.kit.oauth import Consented, ConsentIncompleteError

_HOST = re.compile(r"[a-z0-9]([a-z0-9.-]{0,200}[a-z0-9])?(:\d{1,5})?")


async def data_center(
    consented: Consented,
    http: httpx.AsyncClient,  # noqa: ARG001 - the completion's signature
) -> tuple[str, dict[str, str]]:
    host = consented.answer.get("host", "").strip().lower()
    if not host:
        return consented.base_url, dict(consented.extra)
    configured = httpx.URL(consented.base_url) if consented.base_url else None
    wrike = host == "wrike.com" or host.endswith(".wrike.com")
    if not _HOST.fullmatch(host) or not (
        wrike or (configured is not None and host == configured.netloc.decode())
    ):
        raise ConsentIncompleteError(f"Wrike named a data center host that is not Wrike's: {host}")
    scheme = configured.scheme if configured is not None and not wrike else "https"
    return f"{scheme}://{host}/api/v4", dict(consented.extra)
