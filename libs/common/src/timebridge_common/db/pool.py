"""Connection setup shared by every pool."""

import json
from typing import Any


async def init_connection(conn: Any) -> None:
    """JSON columns in and out as Python objects."""
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def reset_connection(conn: Any) -> None:
    """Return a connection to the pool without the default reset's round trip.

    Before this runs the pool has rolled back a transaction left open and dropped listener
    callbacks. The default reset then sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL`` on every release: ~8% of the conflict-resolver's CPU (issue 12).
    Our code leaves no session state behind: no ``SET`` (only ``SET LOCAL``), cursors only inside
    transactions, and the two holders of session state (the outbox relay's advisory lock and
    ``LISTEN``, the migration lock) undo it in ``finally`` and terminate a connection they could
    not clean.
    """
    del conn
