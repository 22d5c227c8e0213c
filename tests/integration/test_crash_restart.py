"""A consumer killed (SIGKILL) in the middle of a stream of 1,000 entries loses and duplicates
nothing: offsets are committed only after the state change, and the inbox drops what a restart
redelivers.
"""

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable

import asyncpg
import httpx

from timebridge_common.crypto import SecretBox
from timebridge_common.testing import in_memory_tracing, position_group_at_end, wait_for
from timebridge_ingest.bootstrap import bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.core_webhook import sign

from .conftest import KAFKA, kafka_config, unique
from .test_thin_path import core_webhook

COUNT = 1000
SECRET = "crash-secret-" + "x" * 24


async def start_mapping(dsn: str, group_prefix: str, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "TB_KAFKA__BOOTSTRAP_SERVERS": KAFKA,
        "TB_KAFKA__GROUP_PREFIX": group_prefix,
        "TB_DATABASE__URL": dsn,
        "TB_HTTP__PORT": str(port),
        "TB_ENCRYPTION_KEY": SecretBox.generate_key(),
        "TB_TELEMETRY__LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "timebridge_mapping.entrypoints.main", env=env
    )

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    await wait_for(ready, timeout_s=60)
    return proc


async def test_killed_consumer_loses_and_duplicates_nothing(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    kafka = kafka_config()
    prefix = f"{kafka.group_prefix}-crash"
    await position_group_at_end(KAFKA, f"{prefix}-mapping", topics)
    mapping_dsn = await create_database("mapping-crash")
    ingest_pool = await make_pool(await create_database("ingest-crash"))
    provider, _ = in_memory_tracing("ingest")
    ingest = bootstrap(
        Settings(kafka=kafka, encryption_key=SecretBox.generate_key(), admin_token="a"),
        pool=ingest_pool,
        tracer_provider=provider,
    )
    await ingest.runtime.start()
    workspace = unique("ws")
    await ingest.secrets.put(workspace, "core", SECRET)
    mapping = await start_mapping(mapping_dsn, prefix, 18751)
    pool = await make_pool(mapping_dsn)
    try:
        transport = httpx.ASGITransport(app=ingest.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:

            async def post(n: int) -> None:
                body = core_webhook(workspace, f"dlv-{n}", f"te-{n}", duration_seconds=60 + n)
                response = await http.post(
                    f"/v1/webhooks/core/{workspace}",
                    content=body,
                    headers={
                        "content-type": "application/json",
                        "Core-Signature": sign(SECRET, int(time.time()), body),
                    },
                )
                assert response.status_code == 202, response.text

            half = COUNT // 2
            await asyncio.gather(*(post(n) for n in range(half)))

            async def midway() -> bool:
                stored: int = await pool.fetchval("SELECT count(*) FROM source_entries")
                return stored >= 50

            await wait_for(midway, timeout_s=60)
            mapping.send_signal(signal.SIGKILL)
            await mapping.wait()
            killed_at = await pool.fetchval("SELECT count(*) FROM source_entries")
            assert killed_at < half, "mapping finished before it was killed"
            await asyncio.gather(*(post(n) for n in range(half, COUNT)))
            mapping = await start_mapping(mapping_dsn, prefix, 18751)

        async def all_stored() -> bool:
            count: int = await pool.fetchval("SELECT count(*) FROM source_entries")
            return count == COUNT

        await wait_for(all_stored, timeout_s=90)
        rows = await pool.fetch("SELECT external_id, fields FROM source_entries")
        durations = {r["external_id"]: r["fields"]["duration_seconds"] for r in rows}
        assert durations == {f"te-{n}": 60 + n for n in range(COUNT)}
        claims = await pool.fetchval(
            "SELECT count(*) FROM inbox WHERE consumer = 'mapping.time-entry-logged'"
        )
        assert claims == COUNT
    finally:
        if mapping.returncode is None:
            mapping.send_signal(signal.SIGTERM)
            await mapping.wait()
        await ingest.runtime.stop()
