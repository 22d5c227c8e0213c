"""The portal's forms (pure) and its cookie, which never opens as an admin's nor the reverse."""

import datetime as dt

import httpx
import pytest

from timebridge_console.adapters.api import ServiceApis
from timebridge_console.adapters.session_cookie import SessionCodec
from timebridge_console.config import ServiceUrls
from timebridge_console.domain.portal import (
    PortalFormError,
    ReportAsk,
    last_month,
    link_request,
    report_request,
    scope_text,
)
from timebridge_console.domain.session import signed_in
from timebridge_console.entrypoints.portal_web import CONTEXT
from timebridge_console.handlers.portal import PortalApi

NOW = dt.datetime(2026, 12, 6, 9, tzinfo=dt.UTC)


def test_the_sign_in_form_takes_a_workspace_and_an_address() -> None:
    assert link_request({"workspace_id": " demo ", "email": " pm@client.test "}) == (
        "demo",
        "pm@client.test",
    )
    with pytest.raises(PortalFormError, match="workspace id"):
        link_request({"workspace_id": "de mo", "email": "pm@client.test"})
    for email in ("", "pm", "pm@client", "p m@client.test", "pm@client.test\nBcc: x@y.test"):
        with pytest.raises(PortalFormError, match="email address"):
            link_request({"workspace_id": "demo", "email": email})


def test_a_report_request_names_one_of_the_offered_reports_and_a_period() -> None:
    fields = {"definition_id": "rdef_1", "start": "2026-10-01", "end": "2026-10-31"}
    assert report_request(fields, {"rdef_1"}) == ReportAsk("rdef_1", "2026-10-01", "2026-10-31")
    for change, message in [
        ({"definition_id": "rdef_other"}, "Choose one of your reports"),
        ({"start": "01/10/2026"}, "as dates"),
        ({"end": "2026-09-30"}, "before its first day"),
        ({"start": "2025-01-01"}, "at most one year"),
    ]:
        with pytest.raises(PortalFormError, match=message):
            report_request(fields | change, {"rdef_1"})


def test_the_default_period_is_last_month_and_the_scope_is_named() -> None:
    assert last_month(dt.date(2026, 3, 15)) == ("2026-02-01", "2026-02-28")
    assert last_month(dt.date(2026, 1, 1)) == ("2025-12-01", "2025-12-31")
    assert scope_text(None) == "all clients"
    assert scope_text([{"client_id": "cl_a", "name": "Acme"}, {"client_id": "b", "name": "B"}]) == (
        "Acme, B"
    )


def test_a_portal_cookie_is_not_an_admin_cookie_nor_the_reverse() -> None:
    key = "k" * 40
    admin, portal = SessionCodec(key), SessionCodec(key, CONTEXT)
    session = signed_in("demo", "tbp_token", NOW, dt.timedelta(hours=1))
    assert portal.open(portal.seal(session)) == session
    assert admin.open(portal.seal(session)) is None
    assert portal.open(admin.seal(session)) is None


async def test_a_public_call_carries_no_authorization_header() -> None:
    """``Bearer `` with no token is not a valid header: over TCP the call failed before it was
    sent, and the portal's sign-in page said the reports service could not be reached."""
    seen: list[httpx.Headers] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(202, json={"status": "accepted"})

    apis = ServiceApis(ServiceUrls(), timeout_s=5, transport=httpx.MockTransport(answer))
    await PortalApi(apis).ask_link("demo", "pm@client.test")
    await PortalApi(apis, "tbp_session").sign_out()
    await apis.close()
    assert "authorization" not in seen[0]
    assert seen[1]["authorization"] == "Bearer tbp_session"
