"""Composition root of the console: settings -> session codec, service clients, pages."""

import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from timebridge_console.adapters.api import ServiceApis
from timebridge_console.adapters.session_cookie import SessionCodec
from timebridge_console.config import Settings
from timebridge_console.entrypoints.accounting_web import (
    accounting_router,
    consent_result_router,
    invoices_router,
)
from timebridge_console.entrypoints.activity_web import activity_router
from timebridge_console.entrypoints.integration_history_web import history_router
from timebridge_console.entrypoints.integrations_web import (
    connect_router,
    consent_refused_router,
    integrations_router,
)
from timebridge_console.entrypoints.mapping_web import mapping_router, users_router
from timebridge_console.entrypoints.ops_web import ops_router
from timebridge_console.entrypoints.portal_web import CONTEXT as PORTAL_CONTEXT
from timebridge_console.entrypoints.portal_web import portal_router
from timebridge_console.entrypoints.projects_web import projects_router
from timebridge_console.entrypoints.reports_web import report_actions_router, reports_router
from timebridge_console.entrypoints.web import PACKAGE, Web, auth_router, install

NAME = "console"
log = structlog.get_logger(__name__)


@dataclass
class Console:
    settings: Settings
    app: FastAPI
    apis: ServiceApis


def bootstrap(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> Console:
    """Build the console; ``transport`` (tests) routes its API calls somewhere else than TCP."""
    if settings.session_key is None:
        log.warning("TB_SESSION_KEY unset: a random session key, sign-ins end on restart")
        key = secrets.token_urlsafe(32)
    else:
        key = settings.session_key.get_secret_value()
    apis = ServiceApis(settings.services, timeout_s=settings.api_timeout_s, transport=transport)
    web = Web(
        SessionCodec(key),
        apis,
        ttl=dt.timedelta(seconds=settings.session_ttl_s),
        secure_cookies=settings.secure_cookies,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await apis.close()

    app = FastAPI(title="Timebridge console", lifespan=lifespan, docs_url=None, redoc_url=None)
    install(app, web)
    app.mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static")
    app.include_router(auth_router(web))
    app.include_router(connect_router(web))
    app.include_router(consent_refused_router(web))
    app.include_router(integrations_router(web))
    app.include_router(history_router(web))
    app.include_router(mapping_router(web))
    app.include_router(users_router(web))
    app.include_router(activity_router(web))
    app.include_router(accounting_router(web))
    app.include_router(consent_result_router(web))
    app.include_router(invoices_router(web))
    app.include_router(projects_router(web))
    app.include_router(reports_router(web))
    app.include_router(report_actions_router(web))
    app.include_router(ops_router(web))
    app.include_router(portal_router(web, SessionCodec(key, PORTAL_CONTEXT)))  # recipients
    return Console(settings, app, apis)
