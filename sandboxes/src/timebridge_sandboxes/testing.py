"""Helpers for tests that drive a client against a sandbox: fake time and a real loopback server."""

import asyncio
import contextlib
import datetime as dt
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp


class FakeTime:
    """A clock that moves only when someone sleeps on it, so waits cost no real time."""

    def __init__(self, start: dt.datetime = dt.datetime(2026, 11, 21, 9, tzinfo=dt.UTC)) -> None:
        self.start = start
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def utcnow(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass(kw_only=True)
class Traffic:
    """The requests clients sent to a sandbox and the statuses they got back, in order."""

    sent: list[httpx.Request] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    def recording_client(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
        async def on_request(request: httpx.Request) -> None:
            self.sent.append(request)

        async def on_response(response: httpx.Response) -> None:
            self.answers.append(response.status_code)

        hooks: dict[str, list[Callable[..., Any]]] = {
            "request": [on_request],
            "response": [on_response],
        }
        return httpx.AsyncClient(transport=transport, event_hooks=hooks)


class TimeoutTransport(httpx.AsyncBaseTransport):
    """The ASGI transport with the read timeout a socket has: an answer held longer is lost.

    httpx's ASGI transport waits for an answer however long it takes, so without this a sandbox's
    lost response (``Faults.lose_next_responses``) would only arrive late, never be lost.
    """

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self._asgi = httpx.ASGITransport(app)
        self._timeout_s = timeout_s

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._asgi.handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout("no answer in time", request=request) from None


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn on an ephemeral loopback port (listening before it returns)."""
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every answer (headers, then body) waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp) -> Iterator[str]:
    """``serve`` for synchronous clients (the providers' SDKs): uvicorn on an ephemeral loopback
    port in a thread of its own, listening before this returns, stopped on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def provider_specs() -> Path:
    """Where the providers' official specifications (XSD, OpenAPI) are:
    ``$TIMEBRIDGE_PROVIDER_SPECS``, else ``shared/provider-specs`` beside the repository. Tests
    that need them skip, saying where they looked, when they are not there."""
    given = os.environ.get("TIMEBRIDGE_PROVIDER_SPECS")
    if given:
        return Path(given)
    return Path(__file__).resolve().parents[3] / ".." / "shared" / "provider-specs"
