"""Process runtime shared by every service: lifecycle, health endpoints, graceful shutdown.

Start order is database, migrations, Kafka, background tasks, then HTTP traffic; stop order is
the reverse. On SIGTERM uvicorn stops accepting requests and drains in-flight ones, then the
broker stops its consumers after their current message (whose offset commits only if it was
handled), background tasks are cancelled and the pool closes. Nothing acknowledged is lost.
"""

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import asyncpg
import structlog
import uvicorn
import uvloop
from fastapi import APIRouter, FastAPI, Response
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timebridge_common.config import DlqLimitConfig, HttpConfig, RetryConfig, ServiceSettings
from timebridge_common.db.migrations import apply_migrations
from timebridge_common.db.pool import init_connection, reset_connection
from timebridge_common.http_errors import install_error_handling
from timebridge_common.kafka.batch import MAX_RECORDS, BatchHandler, subscribe_batch
from timebridge_common.kafka.broker import make_broker
from timebridge_common.kafka.consumer import DeadLetterHook, E, EventConsumer, Handler, subscribe
from timebridge_common.logging import configure_logging
from timebridge_common.request_guard import RequestGuard
from timebridge_common.tracing import extract, make_tracer_provider

log = structlog.get_logger(__name__)

BackgroundTask = Callable[[], Awaitable[None]]


@dataclass
class ServiceRuntime:
    """What a service's ``bootstrap`` builds: its pool, broker, tracer and background loops."""

    name: str
    broker: KafkaBroker
    pool: asyncpg.Pool | None
    tracer_provider: TracerProvider
    migrations: tuple[str, ...]
    group_prefix: str = "timebridge"
    retry: RetryConfig = field(default_factory=RetryConfig)
    dlq_limit: DlqLimitConfig = field(default_factory=DlqLimitConfig)
    background: list[BackgroundTask] = field(default_factory=list)
    fatal_error: BaseException | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _on_fatal: list[Callable[[], None]] = field(default_factory=list)
    started: bool = False
    consumers: list[EventConsumer[Any]] = field(default_factory=list)

    @functools.cached_property
    def tracer(self) -> Tracer:
        """Looked up once: a ``get_tracer`` per request was ~3% of ingest's CPU (issue 12)."""
        return self.tracer_provider.get_tracer(f"timebridge.{self.name}")

    def subscribe(
        self,
        model: type[E],
        handler: Handler[E],
        *,
        group_id: str | None = None,
        on_dead_letter: DeadLetterHook[E] | None = None,
    ) -> EventConsumer[E]:
        """Subscribe ``handler`` with this service's retry and dead-letter policy.

        The default consumer group is ``<group prefix>-<service>``: each service sees every
        event once, whatever its number of replicas. ``on_dead_letter`` (optional) runs after a
        record of this subscription was dead-lettered, e.g. to publish the failure.
        """
        consumer = subscribe(
            self.broker,
            model,
            handler,
            group_id=group_id or f"{self.group_prefix}-{self.name}",
            tracer=self.tracer,
            retry=self.retry,
            dlq_limit=self.dlq_limit,
            on_fatal=self.fail,
            on_dead_letter=on_dead_letter,
        )
        self.consumers.append(consumer)  # readiness reports a stalled one
        return consumer

    def subscribe_batch(
        self,
        model: type[E],
        handler: BatchHandler[E],
        *,
        max_records: int = MAX_RECORDS,
        on_dead_letter: DeadLetterHook[E] | None = None,
    ) -> EventConsumer[E]:
        """Like ``subscribe``, with batches of records (``kafka.batch``: one commit per batch)."""
        consumer = subscribe_batch(
            self.broker,
            model,
            handler,
            group_id=f"{self.group_prefix}-{self.name}",
            tracer=self.tracer,
            retry=self.retry,
            dlq_limit=self.dlq_limit,
            on_fatal=self.fail,
            max_records=max_records,
            on_dead_letter=on_dead_letter,
        )
        self.consumers.append(consumer)
        return consumer

    def fail(self, error: BaseException) -> None:
        """Mark the service failed (e.g. the dead-letter limit tripped) and ask it to stop."""
        if self.fatal_error is None:
            self.fatal_error = error
            log.critical("service stopping after a fatal error", error=str(error))
        for callback in self._on_fatal:
            callback()

    def on_fatal(self, callback: Callable[[], None]) -> None:
        self._on_fatal.append(callback)

    async def start(self) -> None:
        if self.pool is not None:
            await self.pool  # asyncpg pools connect on first await
            await apply_migrations(self.pool, *self.migrations)
        await self.broker.start()
        for task in self.background:
            self._tasks.append(asyncio.create_task(self._supervise(task)))
        self.started = True
        log.info("service started")

    async def _supervise(self, task: BackgroundTask) -> None:
        try:
            await task()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("background task crashed")
            self.fail(exc)

    async def stop(self) -> None:
        self.started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.broker.stop()
        if self.pool is not None:
            await self.pool.close()
        self.tracer_provider.shutdown()
        log.info("service stopped")

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        if self.pool is not None:
            try:
                async with asyncio.timeout(2):
                    await self.pool.fetchval("SELECT 1")
                checks["postgres"] = "ok"
            except Exception as exc:
                checks["postgres"] = f"error: {exc!r}"
        checks["kafka"] = "ok" if await self.broker.ping(timeout=2) else "error: no answer"
        for consumer in self.consumers:
            if (stall := consumer.stalled) is not None:
                checks[f"consumer {consumer.model.topic()}"] = f"stalled: {stall.describe()}"
        if self.fatal_error is not None:
            checks["fatal"] = str(self.fatal_error)
        if not self.started:
            checks["lifecycle"] = "not started"
        return checks


def build_runtime(
    name: str,
    settings: ServiceSettings,
    *,
    migrations: tuple[str, ...],
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    with_database: bool = True,
    tracer_provider: TracerProvider | None = None,
) -> ServiceRuntime:
    """The shared half of every service's composition root.

    Tests pass their own broker (wrapped in ``TestKafkaBroker``), tracer provider (with an
    in-memory exporter) and either a pool on a scratch database or ``with_database=False`` when
    the service's repositories are replaced by fakes.
    """
    if pool is None and with_database:
        pool = asyncpg.create_pool(
            settings.database.url.get_secret_value(),
            min_size=settings.database.min_connections,
            max_size=settings.database.max_connections,
            init=init_connection,
            reset=reset_connection,
        )
    return ServiceRuntime(
        name=name,
        broker=broker or make_broker(settings.kafka, client_id=f"timebridge-{name}"),
        pool=pool,
        tracer_provider=tracer_provider or make_tracer_provider(name, settings.telemetry),
        migrations=migrations,
        group_prefix=settings.kafka.group_prefix,
        retry=settings.retry,
        dlq_limit=settings.dlq_limit,
    )


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description="Each dependency: ok, or what is wrong")


def health_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @router.get(
        "/readyz",
        summary="Readiness: Postgres and Kafka answer, no consumer is stalled",
        responses={503: {"description": "Not ready: the failing checks", "model": Readiness}},
    )
    async def readyz(response: Response) -> Readiness:
        checks = await runtime.readiness()
        ready = all(v == "ok" for v in checks.values())
        response.status_code = 200 if ready else 503
        return Readiness(status="ready" if ready else "not ready", checks=checks)

    return router


class TracingMiddleware:
    """Opens a server span per HTTP request, continuing an incoming ``traceparent``."""

    def __init__(self, app: ASGIApp, runtime: ServiceRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in {"/healthz", "/readyz"}:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status: dict[str, int] = {}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        with self.runtime.tracer.start_as_current_span(
            f"{scope['method']} {scope['path']}",
            context=extract(headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
        ) as span:
            with structlog.contextvars.bound_contextvars(path=scope["path"]):
                await self.app(scope, receive, send_wrapper)
            code = status.get("code", 500)
            span.set_attribute("http.response.status_code", code)
            if code >= 500:
                span.set_status(Status(StatusCode.ERROR))


def http_app(runtime: ServiceRuntime, *, title: str, version: str = "1") -> FastAPI:
    """The service's FastAPI app; its lifespan starts and stops the runtime.

    Every route added to it, now or later, gets the same error shape and OpenAPI error
    documentation (:mod:`~timebridge_common.http_errors`) and the bad-bytes guard
    (:mod:`~timebridge_common.request_guard`).
    """

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    # FastAPI's own OpenTelemetry layer stays off, as it was (it traces only through the global
    # providers, which services never set: each has its own, see TracingMiddleware); saying so
    # skips its per-request check of the global providers, ~3% of ingest's CPU (issue 12).
    app = FastAPI(
        title=title,
        version=version,
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.include_router(health_router(runtime))
    install_error_handling(app)
    app.add_middleware(RequestGuard)  # inside the tracing: refused requests are traced too
    app.add_middleware(TracingMiddleware, runtime=runtime)

    return app


async def serve(app: FastAPI, runtime: ServiceRuntime, http: HttpConfig) -> int:
    """Run until SIGINT/SIGTERM or a fatal error; return the process exit code."""
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=http.host, port=http.port, log_config=None, access_log=False, lifespan="on"
        )
    )

    def _exit() -> None:
        server.should_exit = True

    runtime.on_fatal(_exit)
    log.info("listening", url=f"http://{http.host}:{http.port}")
    await server.serve()
    return 1 if runtime.fatal_error is not None else 0


class Service(Protocol):
    @property
    def app(self) -> FastAPI: ...

    @property
    def runtime(self) -> ServiceRuntime: ...


S = TypeVar("S", bound=ServiceSettings)


def run_main(name: str, load_settings: Callable[[], S], bootstrap: Callable[[S], Service]) -> int:
    """The body of every service's ``main``: settings, logging, composition root, serve."""
    settings = load_settings()
    configure_logging(name, settings.telemetry)

    async def _run() -> int:
        # Inside the loop: the pool and the broker bind to the loop that creates them.
        service = bootstrap(settings)
        return await serve(service.app, service.runtime, settings.http)

    # uvloop, as uvicorn[standard] would pick it: a cheaper event loop under load (issue 12).
    return uvloop.run(_run())
