"""Wiring of the reports into the service: routes, the work loop and the outbox relay."""

import datetime as dt

import asyncpg
from fastapi import FastAPI

from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.db.outbox import OutboxRelay
from timebridge_common.events import Envelope
from timebridge_common.events.base import Event
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.runtime import ServiceRuntime
from timebridge_reporting.adapters.inbound import PostgresInbound
from timebridge_reporting.adapters.mail import Mailer, SmtpMailer
from timebridge_reporting.adapters.report_queries import PostgresReportQueries
from timebridge_reporting.adapters.runs import PostgresRuns
from timebridge_reporting.adapters.triggers import PostgresTriggers
from timebridge_reporting.adapters.work import PostgresWork
from timebridge_reporting.config import Settings
from timebridge_reporting.domain.triggers import fired_by
from timebridge_reporting.entrypoints import inbound_smtp
from timebridge_reporting.entrypoints.consumers import TriggerHandler
from timebridge_reporting.entrypoints.inbound_smtp import InboundHandler
from timebridge_reporting.entrypoints.reports_http import report_routes
from timebridge_reporting.handlers.inbound import InboundRequests
from timebridge_reporting.handlers.runner import Clock, ReportWorker, WorkerSettings


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def trigger_handler(pool: asyncpg.Pool, clock: Clock | None = None) -> TriggerHandler:
    """Reports triggered by events (invoices exported/sent/paid, milestones, budgets, contracts)."""
    triggers = PostgresTriggers(pool, PostgresRuns(pool))
    now = clock or _now

    async def handle(envelope: Envelope, event: Event) -> None:
        fired = fired_by(event)
        if fired is not None:
            await triggers.fire(envelope, fired, now())

    return handle


def wire(
    runtime: ServiceRuntime,
    app: FastAPI,
    admins: WorkspaceAdmins,
    settings: Settings,
    *,
    mailer: Mailer | None = None,
    clock: Clock | None = None,
) -> ReportWorker:
    """Add the report routes and background loops; ``mailer``/``clock`` are injected by tests."""
    assert runtime.pool is not None
    clock = clock or _now
    queries = PostgresReportQueries(runtime.pool)
    runs, work = PostgresRuns(runtime.pool), PostgresWork(runtime.pool)
    config = settings.reports
    worker = ReportWorker(
        queries,
        runs,
        work,
        mailer or SmtpMailer(settings.smtp),
        WorkerSettings(
            sender=settings.smtp.sender,
            console_url=settings.portal.console_url,
            max_attempts=config.max_attempts,
            backoff_s=config.backoff_s,
            poll_interval_s=config.poll_interval_s,
        ),
        clock=clock,
    )
    publisher = EventPublisher(runtime.broker, runtime.tracer, runtime.name)
    runtime.background += [worker.run, OutboxRelay(runtime.pool, publisher).run]
    inbound = PostgresInbound(runtime.pool)
    app.include_router(report_routes(queries, runs, work, admins, clock, inbound=inbound))
    if config.inbound_port is not None:
        requests = InboundRequests(inbound, runs, worker.mailer, settings.smtp.sender, clock=clock)
        handler = InboundHandler(requests, config.request_domain)
        host, port = config.inbound_host, config.inbound_port

        async def serve_requests() -> None:
            await inbound_smtp.serve(handler, host, port)

        runtime.background.append(serve_requests)
    return worker
