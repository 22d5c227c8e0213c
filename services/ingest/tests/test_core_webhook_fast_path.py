"""The Core webhook's lean ASGI path answers exactly as the FastAPI route it stands in front of.

The same requests go to the service's app (served by ``CoreWebhookFastPath``) and to an app
holding only the documented FastAPI route behind the usual request guard and error handling;
every answer (status, body, ``Retry-After``) must be the same, and the span tree too.
"""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker, TestKafkaBroker
from opentelemetry.trace import SpanKind
from starlette.types import Receive, Scope, Send
from test_core_webhook import (  # type: ignore[import-not-found]  # sibling (conftest.py)
    NOW,
    SECRET,
    MemorySecrets,
    service,
    signed,
    webhook,
)

from timebridge_common.crypto import SecretBox
from timebridge_common.http_errors import install_error_handling
from timebridge_common.request_guard import RequestGuard
from timebridge_common.testing import in_memory_tracing
from timebridge_common.webhooks.replay import MemoryReplayWindow
from timebridge_ingest.bootstrap import Ingest, bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.entrypoints.core_webhook_asgi import CoreWebhookFastPath
from timebridge_ingest.entrypoints.http import core_receiver, webhook_router

__all__ = ["service"]

TICKET = (
    b'{"id": "dlv_t", "type": "ticket.updated", "workspace_id": "acme",'
    b' "occurred_at": "2026-11-21T11:59:00Z", "data": {"ticket": {"id": "t_1"}}}'
)


def settings() -> Settings:
    return Settings(
        encryption_key=SecretBox.generate_key(),
        admin_token="admin-token",
        credentials_url="http://credentials.test",
        service_token="svc-token",
    )


def plain_app(ingest: Ingest) -> FastAPI:
    """The FastAPI route alone, as served before the lean path (its own replay window)."""
    app = FastAPI()
    install_error_handling(app)
    app.add_middleware(RequestGuard)
    receiver = core_receiver(
        ingest.settings, ingest.secrets, ingest.publisher, lambda: NOW, MemoryReplayWindow()
    )
    app.include_router(
        webhook_router(
            ingest.settings,
            ingest.secrets,
            ingest.publisher,
            lambda: NOW,
            MemoryReplayWindow(),
            receiver=receiver,
        )
    )
    return app


def cases() -> list[tuple[str, bytes, list[tuple[bytes, bytes]]]]:
    body = webhook("dlv_same")
    json_type = (b"content-type", b"application/json")

    def sig(b: bytes, secret: str = SECRET) -> tuple[bytes, bytes]:
        return b"core-signature", signed(b, secret)["Core-Signature"].encode()

    huge = b"{" + b" " * 2_000_000 + b"}"
    other = webhook("dlv_other", id="te_2")
    return [
        ("/v1/webhooks/core/acme", body, [json_type, sig(body)]),
        ("/v1/webhooks/core/acme", body, [json_type, sig(body)]),  # a replay: duplicate
        ("/v1/webhooks/core/acme", other, [json_type, sig(other, "x" * 40)]),
        ("/v1/webhooks/core/acme", other, [json_type]),
        ("/v1/webhooks/core/acme", other, [json_type, (b"core-signature", b"t=1,v1=\xff")]),
        ("/v1/webhooks/core/nobody", other, [json_type, sig(other)]),
        ("/v1/webhooks/core/a%20b", other, [json_type, sig(other)]),
        ("/v1/webhooks/core/a%00b", other, [json_type, sig(other)]),
        ("/v1/webhooks/core/a%ffb", other, [json_type, sig(other)]),
        ("/v1/webhooks/core/acme", other, [(b"content-type", b"text/plain"), sig(other)]),
        ("/v1/webhooks/core/acme", other, [sig(other)]),
        ("/v1/webhooks/core/acme", huge, [json_type, sig(huge)]),
        ("/v1/webhooks/core/acme", b"\xff{", [json_type, sig(b"\xff{")]),
        ("/v1/webhooks/core/acme", b"null", [json_type, sig(b"null")]),
        ("/v1/webhooks/core/acme", TICKET, [json_type, sig(TICKET)]),
        ("/v1/webhooks/core/acme/extra", other, [json_type, sig(other)]),
        ("/v1/webhooks/core/", other, [json_type, sig(other)]),
    ]


async def answers(app: Any, requests: Any) -> list[tuple[int, Any, str | None]]:
    transport = httpx.ASGITransport(app=app)
    out = []
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        for path, body, headers in requests:
            response = await client.post(path, content=body, headers=headers)
            out.append((response.status_code, response.json(), response.headers.get("retry-after")))
    return out


async def test_the_lean_path_answers_as_the_fastapi_route(service: Any) -> None:
    ingest, published = service
    assert any(m.cls is CoreWebhookFastPath for m in ingest.app.user_middleware)
    requests = cases()
    lean = await answers(ingest.app, requests)
    assert len(published) == 1  # the first request; the replay is not republished
    plain = await answers(plain_app(ingest), requests)
    assert lean == plain
    assert [a[0] for a in lean] == [
        202, 202, 401, 401, 401, 404, 422, 400, 400, 415, 415, 413, 400, 422, 202, 404, 404
    ]  # fmt: skip
    assert lean[0][1]["status"] == "accepted"
    assert lean[1][1] == {**lean[0][1], "status": "duplicate"}
    assert lean[14][1] == {"status": "ignored", "event_id": None, "topic": None}


async def test_a_kafka_failure_is_the_same_503_on_both_paths(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest, _ = service

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(ingest.runtime.broker, "publish", broken)
    requests = cases()[:1]
    lean = await answers(ingest.app, requests)
    assert lean == await answers(plain_app(ingest), requests)
    assert lean[0][0] == 503
    assert lean[0][2] == "5"


async def test_the_core_route_never_reaches_the_app_behind_it() -> None:
    """Served in front of FastAPI; every other request passes through untouched."""
    reached: list[str] = []

    async def behind(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    class Secrets:
        async def get(self, workspace_id: str, source: str) -> str | None:
            return None

        async def put(self, workspace_id: str, source: str, secret: str) -> None:
            raise AssertionError

    provider, _ = in_memory_tracing("ingest")
    receiver = core_receiver(settings(), Secrets(), Any, lambda: NOW, MemoryReplayWindow())  # type: ignore[arg-type]
    app = CoreWebhookFastPath(
        behind, receiver=receiver, tracer=provider.get_tracer("t"), max_body_bytes=1000
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        body = webhook()
        refused = await client.post(
            "/v1/webhooks/core/acme", content=body, headers={"content-type": "application/json"}
        )
        assert refused.status_code == 404  # no secret: answered by the lean path
        await client.get("/v1/webhooks/core/acme")
        await client.post("/v1/webhooks/everhour/abc")
        await client.post("/v1/admin/x")
    assert reached == [
        "GET /v1/webhooks/core/acme",
        "POST /v1/webhooks/everhour/abc",
        "POST /v1/admin/x",
    ]


async def test_one_server_span_continues_the_caller_and_parents_the_publish() -> None:
    secrets = MemorySecrets()
    await secrets.put("acme", "core", SECRET)
    provider, exporter = in_memory_tracing("ingest")
    ingest = bootstrap(
        settings(),
        broker=KafkaBroker(),
        secrets=secrets,
        tracer_provider=provider,
        clock=lambda: NOW,
    )
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    body = webhook("dlv_traced")
    async with TestKafkaBroker(ingest.runtime.broker) as broker:
        ingest.runtime.broker = broker
        transport = httpx.ASGITransport(app=ingest.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            response = await client.post(
                "/v1/webhooks/core/acme",
                content=body,
                headers={
                    "content-type": "application/json",
                    "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
                    **signed(body),
                },
            )
    assert response.status_code == 202, response.text
    spans = exporter.get_finished_spans()
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    producers = [s for s in spans if s.kind == SpanKind.PRODUCER]
    assert [s.name for s in servers] == ["POST /v1/webhooks/core/acme"]
    server = servers[0]
    assert format(server.context.trace_id, "032x") == trace_id
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 202
    assert len(producers) == 1
    assert producers[0].parent is not None
    assert producers[0].parent.span_id == server.context.span_id
