"""Benchmark: a month's utilization report for a workspace with 10 million entries.

Creates a scratch database with the reporting service's migrations, COPYs ``--entries`` entry
facts into it (2,000 users over three years, each working on a few projects a day), builds the
rollups from them (what the consumers maintain entry by entry; the integration tests check the
two always agree), then times the utilization report for one month as the API computes it (from
the rollups) and a plain GROUP BY over the raw entries for the same month. Prints both figures,
their ratio, and whether the report met its target. Not part of ``make test``.

    .venv/bin/python bench/reports_rollup.py [--entries 10000000] [--keep]
"""

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.db.pool import init_connection
from timebridge_reporting.adapters.report_queries import PostgresReportQueries
from timebridge_reporting.domain.report_model import Period, ReportParams
from timebridge_reporting.handlers.build import build_report

PG = os.environ.get(
    "TB_IT_PG",
    "postgresql://timebridge:timebridge@127.0.0.1:" + os.environ.get("TIMEBRIDGE_PG_PORT", "15432"),
)
WORKSPACE = "bench"
USERS, DAYS, PROJECTS = 2000, 3 * 365, 400
FIRST_DAY = dt.date(2024, 1, 1)
MONTH = Period(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31))  # covered from 182k entries
TARGET_S = 0.5


async def rows(count: int) -> AsyncIterator[bytes]:
    """CSV lines of entry facts, in chunks: each user works every day, on one or two projects."""
    chunk: list[str] = []
    updated = "2026-01-01 00:00:00+00"
    for n in range(count):
        user = n % USERS
        day_index = (n // USERS) % DAYS
        day = FIRST_DAY + dt.timedelta(day_index)
        project = (user * 7 + (n // (USERS * DAYS) + day_index) % 2) % PROJECTS
        seconds = 900 + (n * 37) % 6300
        billable = "t" if n % 4 else "f"
        chunk.append(
            f"{WORKSPACE},core,te_{n},,u_{user},,,p_{project},,{day.isoformat()},{seconds},"
            f"{billable},f,f,{updated}\n"
        )
        if len(chunk) == 50_000:
            yield "".join(chunk).encode()
            chunk.clear()
    if chunk:
        yield "".join(chunk).encode()


async def load(conn: asyncpg.Connection, count: int) -> None:
    await conn.copy_to_table(
        "report_entries",
        source=rows(count),
        format="csv",
        columns=[
            "workspace_id",
            "source",
            "external_id",
            "integration_id",
            "user_id",
            "user_email",
            "user_name",
            "project_id",
            "task_id",
            "work_date",
            "seconds",
            "billable",
            "running",
            "deleted",
            "updated_at",
        ],
    )
    await conn.execute(
        "INSERT INTO report_rollups (workspace_id, source, user_id, project_id, work_date,"
        " seconds, billable_seconds, entries)"
        " SELECT workspace_id, source, user_id, project_id, work_date, sum(seconds),"
        " sum(CASE WHEN billable THEN seconds ELSE 0 END), count(*) FROM report_entries"
        " WHERE NOT deleted AND NOT running GROUP BY 1, 2, 3, 4, 5"
    )
    await conn.execute("ANALYZE report_entries; ANALYZE report_rollups")


PLAIN = (
    "SELECT user_id, sum(seconds) AS seconds,"
    " sum(CASE WHEN billable THEN seconds ELSE 0 END) AS billable_seconds"
    " FROM report_entries WHERE workspace_id = $1 AND source = 'core' AND NOT deleted"
    " AND NOT running AND work_date BETWEEN $2 AND $3 GROUP BY user_id"
)


async def measure(pool: asyncpg.Pool, repeat: int) -> tuple[float, float, int]:
    queries = PostgresReportQueries(pool)
    params = ReportParams(kind="utilization")
    report_times, plain_times = [], []
    users = 0
    for _ in range(repeat):
        start = time.perf_counter()
        report = await build_report(queries, WORKSPACE, params, MONTH)
        report_times.append(time.perf_counter() - start)
        users = len(report.table("utilization").rows)
        start = time.perf_counter()
        plain = await pool.fetch(PLAIN, WORKSPACE, MONTH.start, MONTH.end)
        plain_times.append(time.perf_counter() - start)
        assert len(plain) == users, (len(plain), users)
        team = report.table("utilization").totals
        assert team is not None
        assert team[1] == sum(int(r["seconds"]) for r in plain), "report and GROUP BY disagree"
    return statistics.median(report_times), statistics.median(plain_times), users


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    database = f"bench_reports_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{database}"')
    try:
        pool = await asyncpg.create_pool(
            f"{PG}/{database}", min_size=1, max_size=4, init=init_connection
        )
        await apply_migrations(pool, "timebridge_reporting.adapters.migrations")
        started = time.perf_counter()
        async with pool.acquire() as conn:
            await load(conn, args.entries)
            rollup_rows = await conn.fetchval("SELECT count(*) FROM report_rollups")
        print(
            f"loaded {args.entries:,} entries by COPY and built {rollup_rows:,} rollup rows"
            f" in {time.perf_counter() - started:.1f} s"
        )
        report_s, plain_s, users = await measure(pool, args.repeat)
        await pool.close()
    finally:
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    met = report_s <= TARGET_S
    verdict = "met" if met else "MISSED"
    print(
        f"utilization report, {MONTH.label()}, {users} users: {report_s * 1000:.0f} ms"
        f" (median of {args.repeat}; target <= {TARGET_S * 1000:.0f} ms: {verdict})"
    )
    print(
        f"plain GROUP BY over the raw entries: {plain_s * 1000:.0f} ms;"
        f" the report takes {report_s / plain_s:.2f}x its time"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
