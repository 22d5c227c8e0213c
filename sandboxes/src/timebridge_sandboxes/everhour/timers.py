"""Everhour's timers (``POST /timers``, ``GET /timers/current``, ``DELETE /timers/current``).

A user has at most one running timer; starting another stops the first. Stopping adds the elapsed
whole seconds to the time record of the timer's task, user and ``userDate`` (as ``POST
/tasks/{id}/time`` would, history action ``TIMER``) and announces ``api:time:updated``. Assumed
where the documentation is silent: a stop with no timer answers ``{"status": "stopped"}``.
"""

import datetime as dt
from typing import Any

from fastapi import APIRouter, BackgroundTasks
from pydantic import BaseModel

from timebridge_sandboxes.everhour.deps import Caller, Sandbox
from timebridge_sandboxes.everhour.rules import _Sandbox
from timebridge_sandboxes.everhour.state import Timer, _Record, _stamp, _User

timers = APIRouter()


class _TimerIn(BaseModel):
    task: str
    userDate: dt.date | None = None
    comment: str | None = None


def _timer_json(sandbox: _Sandbox, user: _User, timer: Timer) -> dict[str, Any]:
    now = sandbox.state.now()
    return {
        "status": "active",
        "duration": int((now - timer.started_at).total_seconds()),
        "startedAt": _stamp(timer.started_at),
        "userDate": timer.user_date.isoformat(),
        "comment": timer.comment,
        "task": sandbox.task_json(sandbox.state.tasks[timer.task]),
        "user": sandbox.user_json(user),
    }


def _stop(sandbox: _Sandbox, user: _User, background: BackgroundTasks) -> dict[str, Any]:
    state = sandbox.state
    timer = state.timers.pop(user.id, None)
    if timer is None:
        return {"status": "stopped"}
    seconds = int((state.now() - timer.started_at).total_seconds())
    record = state.find_record(timer.task, user.id, timer.user_date)
    if record is None:
        record = _Record(
            state.next_id("record", 1),
            timer.task,
            user.id,
            timer.user_date,
            0,
            None,
            _stamp(state.now()),
        )
        state.records[record.id] = record
    sandbox.check_unlocked(record, user)
    previous = record.time
    record.time += seconds
    record.comment = timer.comment if timer.comment is not None else record.comment
    sandbox.log_change(record, "TIMER", previous, user)
    sandbox.announce(background, record)
    return {"status": "stopped", "taskTime": sandbox.record_json(record)}


@timers.post("/timers")
async def start_timer(
    sandbox: Sandbox, caller: Caller, body: _TimerIn, background: BackgroundTasks
) -> dict[str, Any]:
    sandbox.task(body.task)
    if caller.id in sandbox.state.timers:
        _stop(sandbox, caller, background)
    now = sandbox.state.now()
    timer = Timer(body.task, now, body.userDate or now.date(), body.comment)
    sandbox.state.timers[caller.id] = timer
    return _timer_json(sandbox, caller, timer)


@timers.get("/timers/current")
async def current_timer(sandbox: Sandbox, caller: Caller) -> dict[str, Any]:
    timer = sandbox.state.timers.get(caller.id)
    return {"status": "stopped"} if timer is None else _timer_json(sandbox, caller, timer)


@timers.delete("/timers/current")
async def stop_timer(
    sandbox: Sandbox, caller: Caller, background: BackgroundTasks
) -> dict[str, Any]:
    return _stop(sandbox, caller, background)
