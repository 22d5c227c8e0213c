"""Back from a consent screen: connected, a landing page of the console opens the right page;
not connected, the console says why, in words."""

from timebridge_console.testing import console_client


async def test_a_refused_consent_is_explained_with_a_way_back() -> None:
    async with console_client() as console:
        answer = await console.get(
            "/accounting/not-connected",
            params={"tool": "QuickBooks Online", "reason": "<b>access_denied</b>"},
        )
    assert answer.status_code == 422
    assert "QuickBooks Online was not connected: &lt;b&gt;access_denied&lt;/b&gt;." in answer.text
    assert 'href="/signin"' in answer.text


async def test_a_tracker_not_connected_by_consent_is_explained_with_a_way_back() -> None:
    async with console_client() as console:
        answer = await console.get(
            "/integrations/not-connected",
            params={"tracker": "QuickBooks Time", "reason": "unknown, used or expired state"},
        )
    assert answer.status_code == 422
    assert "QuickBooks Time was not connected: unknown, used or expired state." in answer.text
    assert 'href="/signin"' in answer.text


async def test_back_connected_the_console_opens_the_integrations_page_itself() -> None:
    async with console_client() as console:
        answer = await console.get(
            "/integrations/connected", params={"workspace": "ws/1", "integration": "int_7"}
        )
        missing = await console.get("/integrations/connected", params={"workspace": "ws"})
        landed = {"workspace": "ws", "integration": "int_7"}
        importing = await console.get(
            "/integrations/connected", params=landed | {"import": "started"}
        )
        refused = await console.get(
            "/integrations/connected", params=landed | {"import": "not_started"}
        )
    assert answer.status_code == 200
    page = "/w/ws%2F1/integrations/int_7?notice=connected"
    assert f'<meta http-equiv="refresh" content="0; url={page}">' in answer.text
    assert missing.status_code == 404
    # The history import asked for before the consent: started, or why not on the page.
    assert "/w/ws/integrations/int_7?notice=connected_importing" in importing.text
    assert "/w/ws/integrations/int_7?notice=connected_import_not_started" in refused.text


async def test_back_from_a_tools_consent_the_console_opens_the_accounting_page_itself() -> None:
    async with console_client() as console:
        answer = await console.get(
            "/accounting/connected", params={"workspace": "ws/1", "connection": "acc 7"}
        )
        missing = await console.get("/accounting/connected", params={"workspace": "ws"})
    assert answer.status_code == 200
    page = "/w/ws%2F1/accounting?notice=accounting_connected&amp;connection=acc+7"
    assert f'<meta http-equiv="refresh" content="0; url={page}">' in answer.text
    assert f'href="{page}">Open Accounting</a>' in answer.text
    assert missing.status_code == 404
