"""The Core sandbox's contracts and milestones (docs/contracts/core.md): REST reads for admins,
the admin API's "what a person does in Core's UI", and their signed webhooks.

A contract is created as a draft (``contract.changed``), signed once (``contract.signed``),
then only moves to ``active``/``ended`` or changes ``ends_on``; its terms are frozen (``423``).
A milestone is reached once (``project.milestone_reached``).
"""

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, Field

from timebridge_sandboxes.core.deps import Caller, Limit, Sandbox
from timebridge_sandboxes.core.rules import _Closed, _page, _Sandbox
from timebridge_sandboxes.core.state import (
    Json,
    _Contract,
    _creation,
    _Milestone,
    _rfc3339,
    _User,
)
from timebridge_sandboxes.faults import ApiError

api = APIRouter(tags=["contracts"])
admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])

_Text = Annotated[str, Field(min_length=1, max_length=500)]
FROZEN_ONCE_SIGNED = frozenset({"title", "client", "starts_on", "currency", "project_ids"})


class _ClientIn(_Closed):
    id: _Text
    name: _Text


class _ContractIn(_Closed):
    title: _Text | None = None
    client: _ClientIn | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    project_ids: list[str] | None = None
    status: Literal["active", "ended"] | None = None


class _MilestoneIn(_Closed):
    name: _Text
    due_on: dt.date | None = None


def contract_json(contract: _Contract) -> Json:
    return {
        "id": contract.id,
        "title": contract.title,
        "client": dict(contract.client),
        "status": contract.status,
        "signed_at": _rfc3339(contract.signed_at) if contract.signed_at else None,
        "starts_on": contract.starts_on.isoformat(),
        "ends_on": contract.ends_on.isoformat() if contract.ends_on else None,
        "currency": contract.currency,
        "project_ids": list(contract.project_ids),
        "updated_at": _rfc3339(contract.updated_at),
        "version": contract.version,
    }


def milestone_json(milestone: _Milestone) -> Json:
    return {
        "id": milestone.id,
        "project_id": milestone.project_id,
        "name": milestone.name,
        "due_on": milestone.due_on.isoformat() if milestone.due_on else None,
        "reached_at": _rfc3339(milestone.reached_at) if milestone.reached_at else None,
        "updated_at": _rfc3339(milestone.updated_at),
        "version": milestone.version,
    }


def _admin_only(caller: _User) -> None:
    if caller.role != "admin":
        raise ApiError(403, "Contracts are for admins and service tokens")


def _contract(sandbox: _Sandbox, contract_id: str, within: str | None = None) -> _Contract:
    contract = sandbox.state.contracts.get(contract_id)
    if contract is None or within not in (None, contract.workspace_id):
        raise ApiError(404, f"No contract {contract_id}")
    return contract


def _check_projects(sandbox: _Sandbox, workspace_id: str, project_ids: list[str]) -> None:
    for project_id in project_ids:
        project = sandbox.state.projects.get(project_id)
        if project is None or project.workspace_id != workspace_id:
            raise ApiError(422, f"project_id {project_id} is not a project of this workspace")


def _changed(sandbox: _Sandbox, contract: _Contract, event: str) -> None:
    contract.version += 1
    contract.updated_at = sandbox.state.stamp()
    data = {"contract": contract_json(contract)}
    sandbox.emit(contract.workspace_id, event, f"contract:{contract.id}", data, contract.updated_at)


@api.get("/contracts")
async def contracts(
    sandbox: Sandbox,
    caller: Caller,
    *,
    updated_since: AwareDatetime | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Json:
    _admin_only(caller)
    found = (
        c
        for c in sandbox.state.contracts.values()
        if c.workspace_id == caller.workspace_id
        and (updated_since is None or c.updated_at >= updated_since)
    )
    key = lambda c: (c.updated_at.isoformat(timespec="microseconds"), _creation(c.id))  # noqa: E731
    return _page(found, key, contract_json, limit, cursor)


@api.get("/contracts/{contract_id}")
async def contract(sandbox: Sandbox, caller: Caller, contract_id: str) -> Json:
    _admin_only(caller)
    return contract_json(_contract(sandbox, contract_id, caller.workspace_id))


@api.get("/projects/{project_id}/milestones")
async def milestones(
    sandbox: Sandbox, caller: Caller, project_id: str, limit: Limit = 50, cursor: str | None = None
) -> Json:
    project = sandbox.state.projects.get(project_id)
    if project is None or project.workspace_id != caller.workspace_id:
        raise ApiError(404, f"No project {project_id}")
    found = (m for m in sandbox.state.milestones.values() if m.project_id == project_id)
    return _page(found, lambda m: (_creation(m.id),), milestone_json, limit, cursor)


@admin.post("/workspaces/{workspace_id}/contracts", status_code=201)
async def ui_create_contract(sandbox: Sandbox, workspace_id: str, body: _ContractIn) -> Json:
    fields = body.model_dump(exclude_unset=True)
    missing = [k for k in ("title", "client", "currency", "starts_on") if fields.get(k) is None]
    if missing or "status" in fields:
        raise ApiError(422, f"a draft needs {', '.join(missing)}; it has no status to set")
    _check_projects(sandbox, workspace_id, fields.get("project_ids") or [])
    made = _Contract(
        sandbox.state.next_id("ct_"), workspace_id, updated_at=sandbox.state.stamp(), **fields
    )
    made.version = 0
    sandbox.state.contracts[made.id] = made
    _changed(sandbox, made, "contract.changed")
    return contract_json(made)


@admin.patch("/contracts/{contract_id}")
async def ui_update_contract(sandbox: Sandbox, contract_id: str, body: _ContractIn) -> Json:
    found = _contract(sandbox, contract_id)
    fields = body.model_dump(exclude_unset=True)
    if found.status != "draft" and FROZEN_ONCE_SIGNED & fields.keys():
        raise ApiError(423, "a signed contract's terms are frozen")
    if found.status == "draft" and "status" in fields:
        raise ApiError(422, "a draft is signed first")
    if None in (fields.get(k, "") for k in FROZEN_ONCE_SIGNED | {"status"}):
        raise ApiError(422, "only ends_on may be null")
    _check_projects(sandbox, found.workspace_id, fields.get("project_ids") or [])
    if all(getattr(found, k) == v for k, v in fields.items()):
        return contract_json(found)
    for name, value in fields.items():
        setattr(found, name, value)
    _changed(sandbox, found, "contract.changed")
    return contract_json(found)


@admin.post("/contracts/{contract_id}/sign")
async def ui_sign_contract(sandbox: Sandbox, contract_id: str) -> Json:
    found = _contract(sandbox, contract_id)
    if found.status != "draft":
        raise ApiError(422, f"contract {contract_id} is already signed")
    found.status = "signed"
    found.signed_at = sandbox.state.stamp()
    _changed(sandbox, found, "contract.signed")
    return contract_json(found)


@admin.post("/projects/{project_id}/milestones", status_code=201)
async def ui_create_milestone(sandbox: Sandbox, project_id: str, body: _MilestoneIn) -> Json:
    project = sandbox.state.projects.get(project_id)
    if project is None:
        raise ApiError(404, f"No project {project_id}")
    made = _Milestone(
        sandbox.state.next_id("ms_"),
        project.workspace_id,
        project_id,
        body.name,
        sandbox.state.stamp(),
        due_on=body.due_on,
    )
    sandbox.state.milestones[made.id] = made
    return milestone_json(made)


@admin.post("/milestones/{milestone_id}/reach")
async def ui_reach_milestone(sandbox: Sandbox, milestone_id: str) -> Json:
    found = sandbox.state.milestones.get(milestone_id)
    if found is None:
        raise ApiError(404, f"No milestone {milestone_id}")
    if found.reached_at is not None:
        raise ApiError(422, f"milestone {milestone_id} was reached already")
    found.reached_at = found.updated_at = sandbox.state.stamp()
    found.version += 1
    data = {"milestone": milestone_json(found)}
    sandbox.emit(
        found.workspace_id,
        "project.milestone_reached",
        f"milestone:{found.id}",
        data,
        found.updated_at,
    )
    return milestone_json(found)
