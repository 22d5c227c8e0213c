"""A lean network layer under httpx for the provider pools (issue 12).

httpx's default goes through anyio's socket streams: py-spy put ~20% of the conflict-resolver's
CPU there with the limit lifted (its checkpoints and wrappers at every send and receive, a
socket send for a request's headers and another for its body, and a ``poll`` of every idle
pooled connection at each request to see whether the server closed it). This backend runs
httpcore on an asyncio protocol instead:

* a request's writes made in one step of the event loop go out in one send (headers and body);
* "has the server closed this idle connection?" is what the protocol was told (data or end of
  stream received), not a system call per connection per request;
* reads wait on a future fed by ``data_received``.

Everything else is httpcore's and httpx's (the pool, HTTP/1.1 framing, TLS via asyncio's
``start_tls``, timeouts, and the exceptions callers see: ``httpx.ReadTimeout``,
``httpx.ConnectError`` and so on, mapped from httpcore's as before).
"""

import asyncio
import ssl
import typing
from collections.abc import Iterable

import httpcore
import httpx

_HIGH_WATER = 256 * 1024
"""Bytes queued in the transport beyond which a write waits for it to drain."""


class _Protocol(asyncio.Protocol):
    """What arrived on a connection, for :class:`_Stream` to read."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()
        self.closed = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received += data
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def pause_writing(self) -> None:
        self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    async def drained(self) -> None:
        if self._drained is not None:
            await self._drained

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def arrival(self, limit_s: float | None) -> None:
        """Until data or the end of the stream arrives; ``ReadTimeout`` after ``limit_s``."""
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = None if limit_s is None else loop.call_later(limit_s, _expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(httpcore.ReadTimeout("timed out waiting for the response"))


class _Stream(httpcore.AsyncNetworkStream):
    """One connection: writes of one loop step coalesced into one send, reads from the
    protocol's buffer."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._pending: list[bytes] = []

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        self._flush()
        protocol = self._protocol
        if not protocol.received and not protocol.closed:
            await protocol.arrival(timeout)
        if protocol.received:
            data = bytes(protocol.received[:max_bytes])
            del protocol.received[:max_bytes]
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error)) from protocol.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        if self._transport.is_closing() or self._protocol.closed:
            raise httpcore.WriteError("the connection is closed")
        if not self._pending:  # sent at the end of this step, or by the read that follows
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(buffer)
        if self._transport.get_write_buffer_size() > _HIGH_WATER:
            self._flush()
            try:
                await asyncio.wait_for(self._protocol.drained(), timeout)
            except TimeoutError as exc:
                raise httpcore.WriteTimeout("timed out sending the request") from exc

    async def aclose(self) -> None:
        self._flush()
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        self._flush()
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:
            raise httpcore.ConnectError("TLS could not be started on the connection")
        return _Stream(transport, self._protocol)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":  # an idle connection the server closed or wrote to
            return self._protocol.closed or bool(self._protocol.received)
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info in ("ssl_object", "socket"):
            return self._transport.get_extra_info(info)
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connections as asyncio protocols (see the module)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        return await _connected(
            loop.create_connection(_Protocol, host, port, local_addr=local), timeout, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await _connected(
            loop.create_unix_connection(_Protocol, path), timeout, socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connected(
    connecting: typing.Awaitable[tuple[asyncio.BaseTransport, _Protocol]],
    limit_s: float | None,
    socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
) -> _Stream:
    try:
        transport, protocol = await asyncio.wait_for(connecting, limit_s)
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(str(exc)) from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    sock = transport.get_extra_info("socket")
    for option in socket_options or ():
        sock.setsockopt(*option)
    return _Stream(typing.cast(asyncio.Transport, transport), protocol)


def lean(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """``client`` with its direct connections' pool on :class:`AsyncioBackend` (the same limits,
    TLS context and HTTP/1.1 as httpx built it; proxies from the environment, mounted apart,
    keep httpx's own). A client given another transport (a test's) is left as it is."""
    transport = client._transport
    pool = getattr(transport, "_pool", None)
    if type(transport) is httpx.AsyncHTTPTransport and type(pool) is httpcore.AsyncConnectionPool:
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=pool._ssl_context,
            max_connections=pool._max_connections,
            max_keepalive_connections=pool._max_keepalive_connections,
            keepalive_expiry=pool._keepalive_expiry,
            http1=pool._http1,
            http2=pool._http2,
            retries=pool._retries,
            local_address=pool._local_address,
            uds=pool._uds,
            socket_options=pool._socket_options,
            network_backend=AsyncioBackend(),
        )
    return client
