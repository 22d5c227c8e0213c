"""Toggl disables a webhook subscription whose deliveries kept failing, and sends nothing to a
disabled or unvalidated one (issue 8). Ingest's periodic check (``HookAdmin.ensure_active``)
enables it again (``PATCH /subscriptions/{ws}/{id}``) and has Toggl ping it
(``POST /ping/{ws}/{id}``): the ping carries the validation code, which our receiver answers,
so the subscription is validated again under the same id; the poll covers the gap."""

from collections.abc import AsyncIterator

import pytest
from timebridge_providers.toggl import client
from timebridge_providers.toggl.webhooks import TogglHooks

from sandboxes.tests.test_toggl_conformance import BASE, Built, toggl_rig


@pytest.fixture
async def built() -> AsyncIterator[Built]:
    made = await toggl_rig()
    yield made
    await made.http.aclose()


async def _disabled_by_toggl(built: Built) -> str:
    [sub] = built.state.subscriptions.values()
    assert (sub.enabled, sub.validated) == (True, True)
    answer = await built.http.post(f"{BASE}/_sandbox/subscriptions/{sub.id}/disable")
    assert answer.status_code == 204
    return str(sub.id)


async def test_a_subscription_toggl_disabled_is_enabled_and_validated_again(built: Built) -> None:
    hook_id = await _disabled_by_toggl(built)
    hooks = TogglHooks(client(built.rig.session()))

    state = await hooks.ensure_active(hook_id)

    assert state is not None
    assert (state.hook_id, state.active) == (hook_id, True)
    sub = built.state.subscriptions[int(hook_id)]
    assert (sub.enabled, sub.validated) == (True, True)  # deliveries flow again
    again = await hooks.ensure_active(hook_id)  # nothing to do the next time
    assert again == state


async def test_a_subscription_gone_at_toggl_is_reported_gone(built: Built) -> None:
    hook_id = await _disabled_by_toggl(built)
    built.state.subscriptions.clear()

    assert await TogglHooks(client(built.rig.session())).ensure_active(hook_id) is None
