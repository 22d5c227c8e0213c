#!/usr/bin/env python3
"""Readiness probe for the local Kafka broker (stdlib only).

Speaks the Kafka wire protocol over a raw TCP socket:

1. ApiVersions v0 - the broker must answer with error code 0 and a list of API ranges;
2. Metadata (highest of v4..v8 that the broker supports, no topics requested) - the
   broker must list at least one live broker and a controller id, and, when
   --cluster-id is given, report that cluster id (so a different Kafka that happens to
   listen on the port is not mistaken for ours).

Polls until ready or until --timeout seconds have passed.

Exit codes: 0 ready, 1 not ready before the timeout, 2 the process given by --pid exited,
3 a broker answers but reports another cluster id, 64 bad usage.
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
import time
from typing import Any

API_METADATA = 3
API_VERSIONS = 18
# Metadata versions whose (non-flexible) encoding this probe implements.
METADATA_VERSIONS = range(4, 9)
CLIENT_ID = b"timebridge-kafka-ready"


class ProbeError(Exception):
    """The broker is not (yet) ready; the message says why."""


class WrongClusterError(ProbeError):
    """Something answers on the port, but it is not our cluster: retrying will not help."""


class Reader:
    """Sequential big-endian decoder over a response body."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ProbeError("truncated response")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return int(value)

    def int8(self) -> int:
        return self._take(">b")

    def int16(self) -> int:
        return self._take(">h")

    def int32(self) -> int:
        return self._take(">i")

    def nullable_string(self) -> str | None:
        length = self.int16()
        if length < 0:
            return None
        if self.pos + length > len(self.data):
            raise ProbeError("truncated response")
        value = self.data[self.pos : self.pos + length].decode("utf-8", "replace")
        self.pos += length
        return value

    def int32_array(self) -> list[int]:
        count = self.int32()
        return [self.int32() for _ in range(max(count, 0))]


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            raise ProbeError("connection closed by broker")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _request(
    sock: socket.socket, api_key: int, api_version: int, correlation_id: int, body: bytes
) -> Reader:
    """Send one request (header v1) and return a reader positioned after the response header v0."""
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    reader = Reader(_recv_exact(sock, size))
    got = reader.int32()
    if got != correlation_id:
        raise ProbeError(f"correlation id mismatch (sent {correlation_id}, got {got})")
    return reader


def api_versions(sock: socket.socket) -> dict[int, tuple[int, int]]:
    reader = _request(sock, API_VERSIONS, 0, 1, b"")
    error_code = reader.int16()
    if error_code != 0:
        raise ProbeError(f"ApiVersions error code {error_code}")
    ranges = {}
    for _ in range(reader.int32()):
        key, lo, hi = reader.int16(), reader.int16(), reader.int16()
        ranges[key] = (lo, hi)
    if not ranges:
        raise ProbeError("ApiVersions returned no APIs")
    return ranges


def metadata(sock: socket.socket, version: int) -> dict[str, Any]:
    body = struct.pack(">ib", 0, 0)  # topics: empty array (none), allow_auto_topic_creation: false
    if version >= 8:
        body += struct.pack(">bb", 0, 0)  # include cluster/topic authorized operations: false
    reader = _request(sock, API_METADATA, version, 2, body)
    reader.int32()  # throttle_time_ms
    brokers = []
    for _ in range(reader.int32()):
        node_id, host, port = reader.int32(), reader.nullable_string(), reader.int32()
        reader.nullable_string()  # rack
        brokers.append((node_id, host, port))
    cluster_id = reader.nullable_string()
    controller_id = reader.int32()
    topic_errors = []
    for _ in range(reader.int32()):
        error_code, name = reader.int16(), reader.nullable_string()
        reader.int8()  # is_internal
        for _ in range(reader.int32()):
            reader.int16(), reader.int32(), reader.int32()  # error_code, partition_index, leader_id
            if version >= 7:
                reader.int32()  # leader_epoch
            reader.int32_array(), reader.int32_array()  # replica_nodes, isr_nodes
            if version >= 5:
                reader.int32_array()  # offline_replicas
        if version >= 8:
            reader.int32()  # topic_authorized_operations
        if error_code:
            topic_errors.append((name, error_code))
    return {
        "brokers": brokers,
        "cluster_id": cluster_id,
        "controller_id": controller_id,
        "topic_errors": topic_errors,
    }


def probe(host: str, port: int, cluster_id: str | None, io_timeout: float) -> str:
    """One readiness check. Returns a summary line, raises ProbeError/OSError when not ready."""
    with socket.create_connection((host, port), timeout=io_timeout) as sock:
        sock.settimeout(io_timeout)
        ranges = api_versions(sock)
        if API_METADATA not in ranges:
            raise ProbeError("broker does not offer the Metadata API")
        lo, hi = ranges[API_METADATA]
        usable = [v for v in METADATA_VERSIONS if lo <= v <= hi]
        if not usable:
            raise ProbeError(f"no Metadata version in {lo}..{hi} that this probe speaks")
        version = max(usable)
        meta = metadata(sock, version)
    if not meta["brokers"]:
        raise ProbeError("Metadata lists no live broker yet")
    if meta["controller_id"] < 0:
        raise ProbeError("Metadata reports no controller yet")
    if cluster_id and meta["cluster_id"] != cluster_id:
        raise WrongClusterError(
            f"cluster id is {meta['cluster_id']!r}, expected {cluster_id!r}"
            " (another Kafka on this port?)"
        )
    brokers = ",".join(f"{n}@{h}:{p}" for n, h, p in meta["brokers"])
    return (
        f"kafka ready at {host}:{port}: cluster_id={meta['cluster_id']} brokers=[{brokers}] "
        f"controller={meta['controller_id']} apis={len(ranges)} metadata_v{version}"
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=19092)
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="seconds to keep polling (0: one attempt)"
    )
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between attempts")
    parser.add_argument("--cluster-id", help="require this cluster id")
    parser.add_argument("--pid", type=int, help="give up early if this process exits")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)

    deadline = time.monotonic() + args.timeout
    last_error = "no attempt made"
    while True:
        if args.pid is not None and not pid_alive(args.pid):
            print(
                f"kafka_ready: process {args.pid} exited; last probe error: {last_error}",
                file=sys.stderr,
            )
            return 2
        remaining = deadline - time.monotonic()
        try:
            summary = probe(
                args.host, args.port, args.cluster_id, io_timeout=max(1.0, min(5.0, remaining))
            )
        except WrongClusterError as exc:
            print(f"kafka_ready: {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 3
        except (OSError, ProbeError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        else:
            if not args.quiet:
                print(summary)
            return 0
        if time.monotonic() + args.interval > deadline:
            print(
                f"kafka_ready: {args.host}:{args.port} not ready after {args.timeout:g}s;"
                f" last error: {last_error}",
                file=sys.stderr,
            )
            return 1
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
