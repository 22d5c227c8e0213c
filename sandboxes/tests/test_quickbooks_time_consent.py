"""QuickBooks Time's consent page: allow sends the browser back with a one-time code for that
``redirect_uri`` (exchanged at ``/grant``), deny with ``access_denied``; an unknown app gets no
redirect at all."""

from urllib.parse import parse_qs, urlsplit

import httpx

from timebridge_sandboxes.quickbooks_time import (
    create_quickbooks_time_sandbox,
    demo_quickbooks_time,
)

BACK = "http://tb.test/v1/oauth/quickbooks_time/callback"
APP = {"client_id": "sandbox-qbt-client", "client_secret": "sandbox-qbt-secret"}


def _client() -> httpx.AsyncClient:
    app = create_quickbooks_time_sandbox(demo_quickbooks_time("t-ann", "t-max"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://qbt")


def _query(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    assert location.startswith(BACK + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_allow_issues_a_code_for_that_redirect_exchanged_once() -> None:
    async with _client() as http:
        ask = {"response_type": "code", "client_id": APP["client_id"], "redirect_uri": BACK}
        page = await http.get("/api/v1/authorize", params={**ask, "state": "s<1>"})
        assert page.status_code == 200
        assert "Ann Admin" in page.text
        assert 'value="s&lt;1&gt;"' in page.text
        form = {"client_id": APP["client_id"], "redirect_uri": BACK, "state": "s<1>"}
        back = _query(await http.post("/api/v1/authorize", data={**form, "decision": "allow"}))
        assert back["state"] == "s<1>"
        grant = {**APP, "grant_type": "authorization_code", "code": back["code"]}
        elsewhere = await http.post("/api/v1/grant", data={**grant, "redirect_uri": "http://x/"})
        assert elsewhere.json()["error"] == "invalid_grant"  # and the code is spent
        again = _query(await http.post("/api/v1/authorize", data={**form, "decision": "allow"}))
        exchange = {**grant, "code": again["code"], "redirect_uri": BACK}
        tokens = await http.post("/api/v1/grant", data=exchange)
        assert tokens.status_code == 200
        me = await http.get(
            "/api/v1/current_user",
            headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
        )
        assert me.status_code == 200
        replay = await http.post("/api/v1/grant", data=exchange)
        assert replay.json()["error"] == "invalid_grant"


async def test_deny_and_unknown_apps() -> None:
    async with _client() as http:
        form = {"client_id": APP["client_id"], "redirect_uri": BACK, "state": "s2"}
        denied = _query(await http.post("/api/v1/authorize", data={**form, "decision": "deny"}))
        assert denied == {"error": "access_denied", "state": "s2"}
        unknown = await http.get(
            "/api/v1/authorize",
            params={"response_type": "code", "client_id": "other", "redirect_uri": BACK},
        )
        assert unknown.status_code == 400
        assert "location" not in unknown.headers
