"""Postgres plumbing on asyncpg: pool, migrations, idempotent inbox, transactional outbox."""
