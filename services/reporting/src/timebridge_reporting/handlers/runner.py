"""The report work loop: due schedules become runs, runs become files and deliveries, deliveries
become mail.

Every step is a claim on a row (see ``adapters.work``) and commits with its effect, so any number
of replicas can run the loop, and a restart resumes where the last commit left off: a schedule
fires once per period, a run renders once, a recipient gets one mail per idempotency key.
Time is injected (``clock``): tests move it instead of waiting.
"""

import asyncio
import datetime as dt
import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import structlog

from timebridge_reporting.adapters.formats import FORMATS, render
from timebridge_reporting.adapters.mail import (
    Mailer,
    PermanentMailError,
    compose,
    message_id,
)
from timebridge_reporting.adapters.runs import ClaimedRun, PostgresRuns, RunRequest
from timebridge_reporting.adapters.work import Outcome, PostgresWork
from timebridge_reporting.domain.definitions import covered_period
from timebridge_reporting.handlers.build import ReportQueries, build_report

log = structlog.get_logger(__name__)
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class WorkerSettings:
    sender: str
    console_url: str
    """The console's base URL (``TB_PORTAL__CONSOLE_URL``): mails point recipients at its portal."""
    max_attempts: int = 8
    backoff_s: float = 30.0
    poll_interval_s: float = 5.0


def backoff(settings: WorkerSettings, attempts: int, now: dt.datetime) -> dt.datetime | None:
    """When to try again after ``attempts`` failures (``None``: give up)."""
    if attempts >= settings.max_attempts:
        return None
    return now + dt.timedelta(seconds=min(settings.backoff_s * 2 ** (attempts - 1), 3600))


def delivery_key(request: RunRequest, recipient: str) -> str:
    """Per definition, period (or cause) and recipient: what "never twice" is counted on."""
    return f"{request.workspace_id}:{request.definition_id or '-'}:{request.run_key}:{recipient}"


def portal_link(console_url: str, workspace_id: str) -> str:
    """Where a recipient sees their reports: the console's portal, never the admin API (which a
    recipient has no token for)."""
    return f"{console_url.rstrip('/')}/portal?{urlencode({'workspace': workspace_id})}"


def summary(report: dict[str, Any], link: str) -> str:
    """The mail's text, from the run's JSON rendering (the numbers of its attachments)."""
    excluded = report["excluded"]
    lines = [
        f"{report['title']}, {report['period']['start']} to {report['period']['end']}",
        f"Data up to: {report['fresh_up_to'] or 'no events seen yet'}",
        "Excluded: " + (", ".join(f"{k}: {v}" for k, v in sorted(excluded.items())) or "nothing"),
    ]
    for name, table in report["tables"].items():
        if table["totals"] is not None:
            pairs = list(table["totals"].items())[1:]
            lines.append(f"{name}: " + ", ".join(f"{k} {v}" for k, v in pairs if v is not None))
    lines += [*report["notes"], "", f"Also in the portal: {link}"]
    return "\n".join(lines)


class ReportWorker:
    def __init__(
        self,
        queries: ReportQueries,
        runs: PostgresRuns,
        work: PostgresWork,
        mailer: Mailer,
        settings: WorkerSettings,
        *,
        clock: Clock = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.queries, self.runs, self.work = queries, runs, work
        self.mailer, self.settings, self.clock = mailer, settings, clock

    async def run(self) -> None:
        """Forever: one pass, then wait (a pass with work loops again at once)."""
        while True:
            try:
                busy = await self.step()
            except Exception:
                log.exception("report work pass failed; retrying")
                busy = False
            if not busy:
                await asyncio.sleep(self.settings.poll_interval_s)

    async def step(self) -> bool:
        """Fire due schedules, render pending runs, send due deliveries; True if any work."""
        fired = await self.fire_schedules()
        rendered = await self.render_pending()
        sent = await self.deliver_due()
        return bool(fired or rendered or sent)

    async def fire_schedules(self) -> int:
        fired = 0
        while True:
            now = self.clock()
            async with self.work.due_definition(now) as claim:
                if claim is None:
                    return fired
                conn, definition = claim
                schedule = definition.body.schedule
                if schedule is None:
                    await self.work.set_next_fire(conn, definition, None)
                    continue
                # Down for a while: the latest missed fire runs once; older ones are not repeated.
                fire = schedule.last_fire(now) or definition.next_fire_at or now
                local_day = fire.astimezone(zoneinfo.ZoneInfo(schedule.timezone)).date()
                params = definition.body.params
                period = covered_period(schedule.coverage(), local_day, params.week_start)
                request = RunRequest(
                    definition.workspace_id,
                    definition.definition_id,
                    f"schedule:{period.label()}",
                    f"schedule:{fire.isoformat()}",
                    params,
                    definition.body.formats,
                    definition.body.recipients,
                    period,
                )
                _, new = await self.runs.request(request, now, conn)
                await self.work.set_next_fire(conn, definition, schedule.next_fire(now))
                fired += int(new)
                log.info("schedule fired", definition=definition.definition_id, period=period)

    async def render_pending(self) -> int:
        rendered = 0
        while True:
            now = self.clock()
            async with self.work.pending_run(now) as claim:
                if claim is None:
                    return rendered
                conn, run = claim
                try:
                    outcome = await self._render(run)
                except Exception as exc:
                    log.exception("report run failed", run_id=run.run_id)
                    retry = backoff(self.settings, run.attempts + 1, now)
                    await self.work.fail_run(conn, run, repr(exc), retry)
                    continue
                await self.work.finish_run(conn, run, outcome, now)
                rendered += 1

    async def _render(self, run: ClaimedRun) -> Outcome:
        request = run.request
        report = await build_report(
            self.queries, request.workspace_id, request.params, request.period
        )
        # JSON always: the mail's text and the API's view of the run come from it.
        formats = [f for f in FORMATS if f in request.formats or f == "json"]
        outputs: dict[str, bytes] = {fmt: render(report, fmt) for fmt in formats}
        deliveries = [
            (key, recipient, message_id(key))
            for recipient in dict.fromkeys(request.recipients)
            for key in [delivery_key(request, recipient.lower())]
        ]
        return Outcome(report.fresh_up_to, outputs, deliveries)

    async def deliver_due(self) -> int:
        sent = 0
        while True:
            now = self.clock()
            async with self.work.due_delivery(now) as claim:
                if claim is None:
                    return sent
                conn, delivery = claim
                run = await self.work.run_of(conn, delivery.run_id)
                outputs = await self.runs.outputs(run.run_id)
                request = run.request
                link = portal_link(self.settings.console_url, request.workspace_id)
                message = compose(
                    sender=self.settings.sender,
                    recipient=delivery.recipient,
                    subject=f"Timebridge {request.params.kind} report:"
                    f" {request.period.start} to {request.period.end}",
                    text=summary(json.loads(outputs["json"]), link),
                    attachments={f: b for f, b in outputs.items() if f in request.formats},
                    basename=f"{request.params.kind}-{request.period.start}-{request.period.end}",
                    msg_id=delivery.message_id,
                )
                try:
                    await self.mailer.send(message)
                except Exception as exc:
                    permanent = isinstance(exc, PermanentMailError)
                    retry = (
                        None if permanent else backoff(self.settings, delivery.attempts + 1, now)
                    )
                    log.warning(
                        "report delivery failed", key=delivery.idempotency_key, error=str(exc)
                    )
                    await self.work.delivery_failed(conn, delivery, str(exc) or repr(exc), retry)
                    continue
                await self.work.delivered(conn, delivery, run, now)
                sent += 1
