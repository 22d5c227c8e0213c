"""The Accounting API v3 under ``/v3/company/{realmId}``: query, cdc, read, write; and the
dependency every route uses to reach the sandbox."""

import datetime as dt
import json
import re
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request
from fastapi.responses import Response

from timebridge_sandboxes.quickbooks.base import (
    CDC_LOOKBACK,
    COMPANY_ZONE,
    KINDS,
    PAGE_LIMIT,
    REQUEST_ID_LIMIT,
    STATUS_FAULTS,
    Company,
    Fault,
    Json,
    invalid,
    not_found,
    required,
    stamp,
    unsupported,
)
from timebridge_sandboxes.quickbooks.batch import run_batch
from timebridge_sandboxes.quickbooks.pdf import invoice_pdf
from timebridge_sandboxes.quickbooks.query import run_query
from timebridge_sandboxes.quickbooks.sandbox import Sandbox


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(_sandbox)]


def _authorised(sandbox: Sandbox, realm_id: str, authorization: str | None) -> Company:
    """The company of a valid bearer token, after the per-company rate limit."""
    scheme, _, token = (authorization or "").partition(" ")
    grant = sandbox.state.access_tokens.get(token) if scheme.lower() == "bearer" else None
    if grant is None:
        raise Fault(401, *STATUS_FAULTS[401], "Token revoked or unknown")
    if grant.expires_at <= sandbox.state.now():
        raise Fault(401, *STATUS_FAULTS[401], "Token expired")
    if grant.realm_id != realm_id:
        raise Fault(403, *STATUS_FAULTS[403], "The token is not for this company")
    sandbox.limit.admit(realm_id)
    return sandbox.company(realm_id)


def _minor_version(minorversion: str | None) -> None:
    """Any minor version from 1 is served (Intuit serves those below 75 as 75)."""
    if minorversion is not None and not (minorversion.isdigit() and int(minorversion) > 0):
        raise invalid(f"minorversion {minorversion!r} is not a valid minor version", "minorversion")


def _caller(
    sandbox: SandboxDep,
    realm_id: str,
    authorization: Annotated[str | None, Header()] = None,
    accept: Annotated[str | None, Header()] = None,
    minorversion: str | None = None,
) -> Company:
    """An API caller's company; the answer is JSON, which it must accept."""
    company = _authorised(sandbox, realm_id, authorization)
    if "application/json" not in (accept or ""):
        raise Fault(406, "4001", "Not Acceptable", "this sandbox answers JSON only (Accept)")
    _minor_version(minorversion)
    return company


def _pdf_caller(
    sandbox: SandboxDep,
    realm_id: str,
    authorization: Annotated[str | None, Header()] = None,
    minorversion: str | None = None,
) -> Company:
    company = _authorised(sandbox, realm_id, authorization)
    _minor_version(minorversion)
    return company


CompanyDep = Annotated[Company, Depends(_caller)]
PdfCompanyDep = Annotated[Company, Depends(_pdf_caller)]

api = APIRouter(prefix="/v3/company/{realm_id}")


def kind_of(resource: str) -> str:
    kind = KINDS.get(resource.lower())
    if kind is None:
        raise Fault(400, "2010", "Unsupported Operation", f"Resource {resource} not simulated")
    return kind


@api.get("/query")
async def query(sandbox: SandboxDep, company: CompanyDep, query: str) -> Json:
    return run_query(sandbox, company, query)


@api.post("/query")
async def query_posted(sandbox: SandboxDep, company: CompanyDep, request: Request) -> Json:
    """The statement as the body (``application/text``), as Intuit's SDKs send it."""
    try:
        statement = (await request.body()).decode()
    except UnicodeDecodeError:
        raise invalid("the query is not UTF-8 text") from None
    return run_query(sandbox, company, statement)


@api.get("/cdc")
async def change_data_capture(
    sandbox: SandboxDep,
    company: CompanyDep,
    entities: str,
    changed_since: Annotated[str, Query(alias="changedSince")],
) -> Json:
    now = sandbox.state.now()
    try:
        since = dt.datetime.fromisoformat(changed_since)
    except ValueError:
        raise invalid(f"changedSince {changed_since!r} is not an ISO date-time") from None
    since = since if since.tzinfo else since.replace(tzinfo=COMPANY_ZONE)
    if since < now - CDC_LOOKBACK:
        raise Fault(400, "4002", "Invalid changedSince", "changedSince is more than 30 days ago")
    kinds = [kind_of(name.strip()) for name in entities.split(",")]
    groups: list[Json] = []
    budget = PAGE_LIMIT
    for kind in kinds:
        changed = sorted(
            (r for r in company.all(kind) if r.updated >= since), key=lambda r: r.updated
        )[:budget]
        budget -= len(changed)
        found = [sandbox.render(r) for r in changed]
        groups.append({kind: found, "startPosition": 1, "maxResults": len(found)} if found else {})
    return {"CDCResponse": [{"QueryResponse": groups}], "time": stamp(now)}


@api.post("/batch")
async def batch(
    sandbox: SandboxDep, company: CompanyDep, request: Request, background: BackgroundTasks
) -> Json:
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise invalid("the body is not JSON") from None
    answer, changes = run_batch(sandbox, company, body)
    sandbox.announce_all(background, company, changes)
    return {**answer, "time": stamp(sandbox.state.now())}


@api.post("/{resource}/{record_id}/send")
async def send(
    sandbox: SandboxDep,
    *,
    company: CompanyDep,
    resource: str,
    record_id: str,
    background: BackgroundTasks,
    send_to: Annotated[str | None, Query(alias="sendTo")] = None,
) -> Json:
    """Email an invoice: to ``sendTo`` (which becomes its ``BillEmail``) or its ``BillEmail``."""
    kind = kind_of(resource)
    if kind != "Invoice":
        raise unsupported(f"Operation Send is not supported for {kind}")
    record = company.live(kind, record_id)
    if send_to is not None:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", send_to):
            raise invalid(f"sendTo {send_to!r} is not an email address", "sendTo")
        record.fields["BillEmail"] = {"Address": send_to}
    if "BillEmail" not in record.fields:
        raise required("BillEmail")
    now = sandbox.state.now()
    record.fields["EmailStatus"] = "EmailSent"
    record.fields["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": stamp(now)}
    sandbox.touch(record)
    sandbox.announce(background, company, record, "Emailed")
    return {kind: sandbox.render(record), "time": stamp(now)}


@api.get("/{resource}/{record_id}/pdf")
async def pdf(company: PdfCompanyDep, resource: str, record_id: str) -> Response:
    kind = kind_of(resource)
    if kind != "Invoice":
        raise unsupported(f"Operation PDF is not supported for {kind}")
    invoice = company.live(kind, record_id)
    return Response(invoice_pdf(invoice.fields), media_type="application/pdf")


@api.get("/{resource}/{record_id}")
async def read(sandbox: SandboxDep, company: CompanyDep, resource: str, record_id: str) -> Json:
    kind = kind_of(resource)
    now = stamp(sandbox.state.now())
    if kind == "CompanyInfo":  # read by the realm id
        if record_id != company.realm_id:
            raise not_found("Company not found")
        return {kind: sandbox.company_info(company), "time": now}
    return {kind: sandbox.render(company.live(kind, record_id)), "time": now}


@api.post("/{resource}")
async def write(
    sandbox: SandboxDep,
    *,
    company: CompanyDep,
    resource: str,
    request: Request,
    background: BackgroundTasks,
    requestid: str | None = None,
    operation: str | None = None,
    include: str | None = None,
) -> Json:
    """Create (no ``Id``), update (``Id`` and ``SyncToken``; sparse or full), ``operation=void``
    or ``operation=delete`` (``Id`` and ``SyncToken``), ``operation=update&include=void``."""
    kind = kind_of(resource)
    if requestid is not None:
        if not 0 < len(requestid) <= REQUEST_ID_LIMIT:
            raise invalid(f"requestid: 1 to {REQUEST_ID_LIMIT} characters", "requestid")
        if requestid in company.replies:
            return company.replies[requestid]
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise invalid("the body is not JSON") from None
    record, changes = sandbox.write(company, kind, body, operation, include)
    sandbox.announce_all(background, company, changes)
    answer = {kind: sandbox.render(record), "time": stamp(sandbox.state.now())}
    if requestid is not None:
        company.replies[requestid] = answer
    return answer
