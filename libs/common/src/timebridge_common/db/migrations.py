"""A small forward-only migration runner.

Migrations are ``NNNN_name.sql`` files shipped inside a package. Each runs in its own
transaction; a Postgres advisory lock serialises concurrent runners (two replicas starting at
once), and ``schema_migrations`` records what ran, so applying is idempotent.
"""

from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg
import structlog

log = structlog.get_logger(__name__)

_LOCK_KEY = 0x7B1D6E  # arbitrary, constant across services: one runner per database at a time

COMMON = "timebridge_common.db.sql"


def _files(package: str) -> list[Traversable]:
    root = resources.files(package)
    return sorted(
        (f for f in root.iterdir() if f.name.endswith(".sql") and f.name[:4].isdigit()),
        key=lambda f: f.name,
    )


async def apply_migrations(pool: asyncpg.Pool, *packages: str) -> list[str]:
    """Apply the shared migrations, then each package's, in order; return what was applied."""
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for package in (COMMON, *packages):
                for file in _files(package):
                    version = f"{package}:{file.name}"
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(file.read_text())
                        await conn.execute(
                            "INSERT INTO schema_migrations (version) VALUES ($1)", version
                        )
                    applied.append(version)
                    log.info("migration applied", version=version)
        finally:
            try:
                await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
            except BaseException:
                # The pool does not reset session state (db.pool.reset_connection): a connection
                # that may still hold the lock must not be reused.
                conn.terminate()
                raise
    return applied
