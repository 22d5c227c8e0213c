"""The provider pools' asyncio network layer under httpx (``outbound/transport.py``), against a
real HTTP/1.1 server on a socket: answers and keep-alive as with httpx's own, a request's
writes in one send, an idle connection the server closed not reused, timeouts and refused
connections as httpx's exceptions, TLS."""

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from timebridge_common.outbound.transport import AsyncioBackend, _Protocol, _Stream, lean


class Server:
    """An HTTP/1.1 server echoing each request's method and body; ``close_after`` drops the
    connection after answering (a server's keep-alive timeout), ``stall`` never answers."""

    def __init__(self) -> None:
        self.connections = 0
        self.close_after = False
        self.stall = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                length = next(
                    (
                        int(v)
                        for k, _, v in (x.partition(": ") for x in lines)
                        if k == "Content-Length"
                    ),
                    0,
                )
                body = await reader.readexactly(length)
                if self.stall:
                    await asyncio.sleep(10)
                answer = lines[0].split()[0].encode() + b" " + body
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(answer))
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, int]]:
    s = Server()
    srv = await asyncio.start_server(s.handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield s, port


async def test_answers_and_keep_alive_as_with_httpxs_own(server: tuple[Server, int]) -> None:
    s, port = server
    async with lean(httpx.AsyncClient()) as client:
        first = await client.get(f"http://127.0.0.1:{port}/a")
        second = await client.post(f"http://127.0.0.1:{port}/b", json={"n": 1})
        third = await client.post(f"http://127.0.0.1:{port}/c", content=b"x" * 300_000)
    assert first.text == "GET "
    assert second.text == 'POST {"n":1}'
    assert third.content == b"POST " + b"x" * 300_000
    assert s.connections == 1  # one kept-alive connection for all three


async def test_an_idle_connection_the_server_closed_is_not_reused(
    server: tuple[Server, int],
) -> None:
    s, port = server
    s.close_after = True
    async with lean(httpx.AsyncClient()) as client:
        for n in range(3):
            answer = await client.get(f"http://127.0.0.1:{port}/{n}")
            assert answer.text == "GET "
            await asyncio.sleep(0.05)  # the server's close arrives while the connection idles
    assert s.connections == 3


async def test_a_requests_writes_go_out_in_one_send() -> None:
    sent: list[bytes] = []

    class Recording(asyncio.Transport):
        def write(self, data: bytes | bytearray | memoryview) -> None:
            sent.append(bytes(data))

        def is_closing(self) -> bool:
            return False

        def get_write_buffer_size(self) -> int:
            return 0

    protocol = _Protocol()
    stream = _Stream(Recording(), protocol)
    await stream.write(b"POST / HTTP/1.1\r\n\r\n")
    await stream.write(b"{}")
    protocol.data_received(b"HTTP/1.1 200 OK\r\n")
    assert await stream.read(100) == b"HTTP/1.1 200 OK\r\n"
    assert sent == [b"POST / HTTP/1.1\r\n\r\n{}"]


async def test_timeouts_and_refusals_are_httpxs_exceptions(server: tuple[Server, int]) -> None:
    s, port = server
    s.stall = True
    async with lean(httpx.AsyncClient(timeout=0.2)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"http://127.0.0.1:{port}/")
    free = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    closed_port = free.sockets[0].getsockname()[1]
    free.close()
    await free.wait_closed()
    async with lean(httpx.AsyncClient()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{closed_port}/")


def _certificate(into: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = into / "cert.pem", into / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_tls(tmp_path: Path) -> None:
    cert_file, key_file = _certificate(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert_file, key_file)
    s = Server()
    srv = await asyncio.start_server(s.handle, "127.0.0.1", 0, ssl=served)
    port = srv.sockets[0].getsockname()[1]
    trusting = ssl.create_default_context(cafile=str(cert_file))
    async with srv, lean(httpx.AsyncClient(verify=trusting)) as client:
        first = await client.post(f"https://127.0.0.1:{port}/", content=b"hi")
        second = await client.get(f"https://127.0.0.1:{port}/")
    assert (first.text, second.text) == ("POST hi", "GET ")
    assert s.connections == 1
    async with lean(httpx.AsyncClient()) as untrusting:  # the system's roots: refused
        with pytest.raises(httpx.ConnectError):
            await untrusting.get(f"https://127.0.0.1:{port}/")


def test_a_client_with_its_own_transport_is_left_as_it_is() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    client = lean(httpx.AsyncClient(transport=mock))
    assert client._transport is mock
    own = lean(httpx.AsyncClient())
    pool = own._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    assert isinstance(pool._network_backend, AsyncioBackend)
