"""``timebridge-audit verify [--workspace W]``: verify the audit trail's hash chains.

Reads the database from the service's settings (``TB_DATABASE__URL``). Prints one line per
workspace; exits 1 when a chain is broken, naming the first broken record.
"""

import argparse
import asyncio
import sys

import asyncpg

from timebridge_contracts.adapters.audit_log import AuditTrail, Verification
from timebridge_contracts.config import Settings


async def verify_all(dsn: str, workspace: str | None) -> list[Verification]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        trail = AuditTrail(pool)
        workspaces = [workspace] if workspace else await trail.workspaces()
        return [await trail.verify(ws) for ws in workspaces]
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="timebridge-audit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="verify hash chains; exit 1 on the first broken link")
    check.add_argument("--workspace", help="one workspace (default: every workspace)")
    check.add_argument("--database-url", help="default: TB_DATABASE__URL")
    args = parser.parse_args(argv)
    dsn = args.database_url or Settings().database.url.get_secret_value()
    results = asyncio.run(verify_all(dsn, args.workspace))
    for result in results:
        print(result.describe())
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
