"""Connection setup shared by every pool."""

import json
from typing import Any


async def init_connection(conn: Any) -> None:
    """JSON columns in and out as Python objects."""
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
