"""The shared HTTP conventions: one error body, bad bytes refused at the door, documents that say
so. On a bare FastAPI app with the same installation as every service's ``http_app``."""

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, SecretStr

from timebridge_common.api import Credential, WorkspaceIdPath
from timebridge_common.auth import PlatformAdmin
from timebridge_common.errors import TransientError
from timebridge_common.http_errors import install_error_handling, refusals
from timebridge_common.refusals import ConflictError
from timebridge_common.request_guard import RequestGuard


class KeyBody(BaseModel):
    api_key: Credential
    notes: str = ""


def app() -> FastAPI:
    application = FastAPI()
    install_error_handling(application)
    application.add_middleware(RequestGuard)
    platform = PlatformAdmin(SecretStr("platform-token"))
    seen: dict[str, Any] = {}
    application.state.seen = seen

    @application.get("/v1/workspaces/{workspace_id}/things", responses=refusals(409))
    async def things(workspace_id: WorkspaceIdPath, q: Annotated[str, Query()] = "") -> list[str]:
        seen["q"] = q
        if q == "taken":
            raise ConflictError("that one is taken")
        if q == "down":
            raise TransientError("the database is down", retry_after=7)
        if q == "missing":
            raise HTTPException(404, "no such thing")
        return [workspace_id, q]

    @application.post("/keys")
    async def keys(body: KeyBody) -> dict[str, str]:
        seen["body"] = body
        return {"ok": "yes"}

    @application.put("/v1/admin/things", dependencies=[Depends(platform.require)])
    async def admin() -> None:
        return None

    @application.post("/v1/webhooks/x", responses={401: {"description": "", "content": {}}})
    async def webhook() -> None:
        return None

    return application


async def request(application: FastAPI, method: str, url: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.request(method, url, **kwargs)


@pytest.mark.parametrize(
    "url",
    [
        "/v1/workspaces/acme/things?q=%00",
        "/v1/workspaces/acme/things?q=a%0Db",
        "/v1/workspaces/acme/things?q=%FF%FE",
        "/v1/workspaces/acme/things?q=%7F",
        "/v1/workspaces/ac%00me/things",
        "/v1/webhooks/x?%00",
    ],
)
async def test_bad_bytes_in_the_url_are_400_before_any_route(url: str) -> None:
    application = app()
    answered = await request(application, "GET" if "things" in url else "POST", url)
    assert answered.status_code == 400
    assert set(answered.json()) == {"detail"}
    assert "q" not in application.state.seen


async def test_good_text_passes_the_guard() -> None:
    answered = await request(app(), "GET", "/v1/workspaces/acme/things?q=caf%C3%A9+%E2%82%AC")
    assert answered.json() == ["acme", "café €"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (b'{"api_key": "k", "notes": "a\\u0000b"}', ["body", "notes"]),
        (b'{"api_key": "k", "notes": "\\ud800"}', ["body", "notes"]),
        (b'{"api_key": "k", "x": [{"\\u0000": 1}]}', ["body", "x", 0, "<key>"]),
    ],
)
async def test_nul_and_lone_surrogates_in_json_bodies_are_400_with_the_field(
    body: bytes, loc: list[Any]
) -> None:
    application = app()
    answered = await request(
        application, "POST", "/keys", content=body, headers={"content-type": "application/json"}
    )
    assert answered.status_code == 400
    assert answered.json()["errors"][0]["loc"] == loc
    assert "body" not in application.state.seen


async def test_an_escaped_backslash_is_not_a_nul_and_webhook_bodies_pass_untouched() -> None:
    application = app()
    body = b'{"api_key": "k", "notes": "C:\\\\u0000dir"}'
    answered = await request(
        application, "POST", "/keys", content=body, headers={"content-type": "application/json"}
    )
    assert answered.status_code == 200
    assert application.state.seen["body"].notes == "C:\\u0000dir"
    raw = b'{"a": "\\u0000"}'
    assert (await request(application, "POST", "/v1/webhooks/x", content=raw)).status_code == 200


async def test_validation_422_has_a_string_detail_and_the_fields_without_the_input() -> None:
    answered = await request(app(), "POST", "/keys", json={"api_key": "kľúč €"})
    body = answered.json()
    assert answered.status_code == 422
    assert body["detail"].startswith("invalid request: body.api_key:")
    assert [(e["loc"], e["type"]) for e in body["errors"]] == [
        (["body", "api_key"], "string_pattern_mismatch")
    ]
    assert "kľúč" not in answered.text


async def test_refusals_http_exceptions_and_unavailable_dependencies_share_the_shape() -> None:
    application = app()
    things = "/v1/workspaces/acme/things"
    conflict = await request(application, "GET", f"{things}?q=taken")
    assert (conflict.status_code, conflict.json()) == (409, {"detail": "that one is taken"})
    missing = await request(application, "GET", f"{things}?q=missing")
    assert (missing.status_code, missing.json()) == (404, {"detail": "no such thing"})
    down = await request(application, "GET", f"{things}?q=down")
    assert down.status_code == 503
    assert down.headers["retry-after"] == "7"
    assert "the database is down" in down.json()["detail"]


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        (b"Bearer wrong", 401),
        (b"Bearer platform-token\xe2\x82\xac", 401),
        (b"Bearer pl\xe4tform", 401),
        (b"Bearer platform-token", 200),
    ],
)
async def test_the_platform_token_is_compared_only_as_visible_ascii(
    header: bytes | None, status: int
) -> None:
    headers = [] if header is None else [(b"authorization", header)]
    answered = await request(app(), "PUT", "/v1/admin/things", headers=headers)
    assert answered.status_code == status


def test_the_document_declares_every_refusal_with_the_error_body() -> None:
    document = app().openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorBody"]["properties"]) == {"detail", "errors"}
    things = document["paths"]["/v1/workspaces/{workspace_id}/things"]["get"]["responses"]
    assert set(things) == {"200", "400", "409", "422"}
    admin = document["paths"]["/v1/admin/things"]["put"]["responses"]
    assert document["paths"]["/v1/webhooks/x"]["post"]["responses"]["401"]["content"] == {}
    assert {"400", "401"} <= set(admin)
    for responses in (things, admin):
        for code, response in responses.items():
            if code[0] == "4":
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorBody"
