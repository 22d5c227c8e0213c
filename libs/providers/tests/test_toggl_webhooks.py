"""Toggl's webhook deliveries: ``X-Webhook-Signature-256: sha256=<hmac of the body>``; a good,
bad, stale (by the signed body's own timestamp) and replayed delivery; the validation ping;
running timers and other workspaces."""

import datetime as dt
import json
from typing import Any

import pytest
from timebridge_providers.kit.ports.observe import Delivery, RefusedError
from timebridge_providers.toggl.webhooks import TogglWebhooks, sign, validation_code

SECRET = "PGuRrhCFajIyEvFlreKL"
NOW = dt.datetime(2026, 11, 5, 9, 0, 5, tzinfo=dt.UTC)
HOOKS = TogglWebhooks()


def _event(**changes: Any) -> bytes:
    event: dict[str, Any] = {
        "event_id": 42,
        "created_at": "2026-11-05T09:00:00.207820267Z",
        "creator_id": 3,
        "metadata": {"action": "created", "model": "time_entry", "workspace_id": "7"},
        "payload": {
            "id": 11,
            "workspace_id": 7,
            "user_id": 3,
            "project_id": 5,
            "start": "2026-11-05T08:00:00+00:00",
            "stop": "2026-11-05T08:30:00+00:00",
            "duration": 1800,
            "description": "hook",
            "billable": False,
            "at": "2026-11-05T09:00:00+00:00",
        },
        "subscription_id": 6,
        "timestamp": "2026-11-05T09:00:00.207820267Z",
    }
    event.update(changes)
    return json.dumps(event, separators=(",", ":")).encode()


def _verify(
    body: bytes, header: str | None = None, *, secret: str = SECRET, account: str = "7"
) -> Delivery:
    return HOOKS.verify(
        secret,
        sign(SECRET, body) if header is None else header,
        body,
        account=account,
        now=NOW,
        tolerance_s=300,
    )


def test_the_documented_example_signature() -> None:
    # Toggl's documentation: this secret and ping body sign to this value.
    body = (
        b'{"event_id":0,"created_at":"2022-06-25T03:58:10.207820267Z","creator_id":6,'
        b'"metadata":{"request_type":"POST","event_user_id":6},"payload":"ping",'
        b'"subscription_id":6,"timestamp":"2022-06-25T03:58:10.207820267Z"}'
    )
    assert sign(SECRET, body).startswith("sha256=")
    assert len(sign(SECRET, body)) == len("sha256=") + 64


def test_a_good_delivery_carries_the_entry() -> None:
    delivery = _verify(_event())
    assert delivery.change is not None
    assert delivery.change.external_id == "11"
    assert delivery.change.fields.duration_seconds == 1800
    assert not delivery.change.deleted
    assert delivery.delivery_id == "6:42"
    assert delivery.signed_at == dt.datetime(2026, 11, 5, 9, 0, 0, 207820, tzinfo=dt.UTC)


def test_a_replay_has_the_same_delivery_id() -> None:
    body = _event()
    assert _verify(body).delivery_id == _verify(body).delivery_id


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=" + "0" * 64, "sha1=abc", "sha256=", "sha256=\u00e9\u00e9", "x" * 600],
)
def test_a_bad_signature_is_401(header: str | None) -> None:
    body = _event()
    with pytest.raises(RefusedError) as refused:
        HOOKS.verify(SECRET, header, body, account="7", now=NOW, tolerance_s=300)
    assert refused.value.status == 401


def test_a_changed_body_or_another_secret_is_401() -> None:
    body = _event()
    with pytest.raises(RefusedError) as refused:
        _verify(body + b" ", sign(SECRET, body))
    assert refused.value.status == 401
    with pytest.raises(RefusedError) as refused:
        _verify(body, secret=SECRET + "x")
    assert refused.value.status == 401


def test_a_stale_delivery_is_401_by_its_signed_timestamp() -> None:
    old = "2026-11-05T08:50:00Z"
    with pytest.raises(RefusedError) as refused:
        _verify(_event(timestamp=old, created_at=old))
    assert refused.value.status == 401


def test_the_validation_ping_is_acknowledged_and_its_code_echoed() -> None:
    body = _event(payload="ping", validation_code="abc123", metadata={"request_type": "POST"})
    delivery = _verify(body)
    assert delivery.change is None
    assert validation_code(body) == "abc123"
    assert validation_code(_event()) is None


def test_a_running_timer_is_acknowledged_not_published_and_its_deletion_is() -> None:
    running = json.loads(_event())
    running["payload"].update(duration=-1793952000, stop=None)
    assert _verify(json.dumps(running).encode()).change is None
    running["metadata"]["action"] = "deleted"
    deleted = _verify(json.dumps(running).encode()).change
    assert deleted is not None
    assert deleted.deleted


def test_another_workspace_or_bad_bytes_are_4xx() -> None:
    with pytest.raises(RefusedError) as refused:
        _verify(_event(), account="8")
    assert refused.value.status == 422
    for body, status in ((b"\xff\xfe", 400), (b"[1]", 422), (b"{}", 422)):
        with pytest.raises(RefusedError) as refused:
            _verify(body)
        assert refused.value.status == status
    broken = json.loads(_event())
    broken["payload"]["start"] = "yesterday"
    with pytest.raises(RefusedError) as refused:
        _verify(json.dumps(broken).encode())
    assert refused.value.status == 422
