"""Hubstaff's webhooks as its API v2 spec documents them: the verification request's
``X-Hook-Secret`` echoed and used to activate, each delivery's ``X-Hook-Signature`` checked over
the raw body, stale deliveries refused, the delivery ``id`` as the replay key; ``timer.stop``
naming a user's day on a task (the hint re-read)."""

import datetime as dt
import hashlib
import hmac
import json

import pytest
from timebridge_providers.hubstaff.webhooks import (
    EVENTS,
    SIGNATURE_HEADER,
    HubstaffWebhooks,
    activation_headers,
    authenticate,
    day_key,
    handshake,
    parse_day_key,
    sign,
)
from timebridge_providers.kit.ports.observe import RefusedError, Signed

NOW = dt.datetime(2024, 6, 20, 14, 11, 0, tzinfo=dt.UTC)
SECRET = "hubstaff-verification-value"


def _delivery(created_at: str = "2024-06-20T14:10:55.196912", uid: object = None) -> bytes:
    """The spec's example delivery (``timer.start``)."""
    return json.dumps(
        {
            "id": "69d37f9f-483e-4be1-92c3-b2377203a8cd" if uid is None else uid,
            "event": "timer.start",
            "created_at": created_at,
            "payload": {
                "organization_id": 13,
                "project_id": 841201,
                "task_id": None,
                "user_id": 651956,
                "tracking_started_at": "2024-06-20T14:10:46.235Z",
            },
        }
    ).encode()


def _auth(body: bytes, headers: dict[str, str], secret: str | None = SECRET) -> Signed:
    return authenticate(secret, headers, body, now=NOW, tolerance_s=300)


def test_the_verification_request_is_echoed_and_its_value_activates_the_hook() -> None:
    assert handshake({"x-hook-secret": SECRET}) == {"X-Hook-Secret": SECRET}
    assert activation_headers(SECRET) == {"X-Hook-Secret": SECRET}
    assert handshake({SIGNATURE_HEADER: "abc"}) is None


@pytest.mark.parametrize("value", ["", "caf\u00e9", "a\x00b", "x" * 300])
def test_a_malformed_verification_header_is_a_401(value: str) -> None:
    with pytest.raises(RefusedError) as refused:
        handshake({"X-Hook-Secret": value})
    assert refused.value.status == 401


def test_sign_is_the_hex_hmac_sha256_of_the_raw_body() -> None:
    assert sign(SECRET, b"{}") == hmac.new(SECRET.encode(), b"{}", hashlib.sha256).hexdigest()


def test_a_signed_delivery_is_vouched_for_with_its_id_and_creation() -> None:
    body = _delivery()
    signed = _auth(body, {"x-hook-signature": sign(SECRET, body).upper()})
    assert signed.delivery_id == "69d37f9f-483e-4be1-92c3-b2377203a8cd"
    assert signed.signed_at == dt.datetime(2024, 6, 20, 14, 10, 55, 196912, tzinfo=dt.UTC)
    assert _auth(body, {SIGNATURE_HEADER: sign(SECRET, body)}) == signed


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b, h: (b + b" ", h), "does not match"),
        (lambda b, h: (b, {SIGNATURE_HEADER: sign(SECRET + "x", b)}), "does not match"),
        (lambda b, h: (b, {}), "missing X-Hook-Signature"),
        (lambda b, h: (b, {SIGNATURE_HEADER: "\u00e9"}), "malformed"),
    ],
)
def test_a_forged_or_altered_delivery_is_refused(mutate: object, reason: str) -> None:
    body = _delivery()
    assert callable(mutate)
    sent, headers = mutate(body, {SIGNATURE_HEADER: sign(SECRET, body)})
    with pytest.raises(RefusedError) as refused:
        _auth(sent, headers)
    assert refused.value.status == 401
    assert reason in refused.value.reason


def test_no_secret_kept_is_a_401() -> None:
    body = _delivery()
    with pytest.raises(RefusedError) as refused:
        _auth(body, {SIGNATURE_HEADER: sign(SECRET, body)}, secret=None)
    assert refused.value.status == 401


def test_a_stale_delivery_is_refused_even_when_signed() -> None:
    body = _delivery(created_at="2024-06-20T14:00:00Z")
    with pytest.raises(RefusedError) as refused:
        _auth(body, {SIGNATURE_HEADER: sign(SECRET, body)})
    assert (refused.value.status, refused.value.reason) == (
        401,
        "delivery is more than 300s from now",
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"\xff", 400),
        (b"[]", 422),
        (_delivery(created_at="yesterday"), 422),
        (_delivery(uid=7), 422),
        (_delivery(uid=""), 422),
    ],
)
def test_signed_bytes_that_are_no_delivery_are_a_4xx(body: bytes, status: int) -> None:
    with pytest.raises(RefusedError) as refused:
        _auth(body, {SIGNATURE_HEADER: sign(SECRET, body)})
    assert refused.value.status == status


def _stop(payload: dict[str, object], event: str = "timer.stop") -> bytes:
    return json.dumps(
        {"id": "u-1", "event": event, "created_at": "2024-06-20T14:10:55", "payload": payload}
    ).encode()


STOPPED = {
    "organization_id": 13,
    "project_id": 841201,
    "task_id": 55,
    "user_id": 651956,
    "tracking_started_at": "2024-06-20T23:10:46.235Z",
    "tracking_stopped_at": "2024-06-21T00:40:46Z",
}


def test_timer_stop_names_the_users_day_on_the_task() -> None:
    hint = HubstaffWebhooks().hint(_stop(STOPPED))
    assert hint.external_id == day_key("651956", "841201", "55", dt.date(2024, 6, 21))
    assert (hint.user_id, hint.task_id, hint.date) == ("651956", "55", dt.date(2024, 6, 21))
    assert parse_day_key(hint.external_id) == (651956, 841201, 55, dt.date(2024, 6, 21))
    no_task = HubstaffWebhooks().hint(_stop({**STOPPED, "task_id": None}))
    assert parse_day_key(no_task.external_id) == (651956, 841201, None, dt.date(2024, 6, 21))
    started = {k: v for k, v in STOPPED.items() if k != "tracking_stopped_at"}
    assert HubstaffWebhooks().hint(_stop(started)).date == dt.date(2024, 6, 20)
    assert parse_day_key("4242") is None, "a record id is no day"
    requested = HubstaffWebhooks().hint(_stop(STOPPED, event="activity.update"))
    assert requested.external_id == hint.external_id, "activity.* (on request) read alike"
    assert EVENTS == ("timer.stop",), "registered for the generally available event only"


@pytest.mark.parametrize(
    "body",
    [
        _stop(STOPPED, event="project.create"),
        _stop({**STOPPED, "user_id": None}),
        _stop({**STOPPED, "project_id": "x1"}),
        _stop({**STOPPED, "user_id": True}),
        _stop({"user_id": 1, "tracking_stopped_at": "2024-06-21T00:40:46Z"}),
        b'{"event": "timer.stop", "payload": []}',
    ],
)
def test_a_delivery_naming_no_users_day_is_a_422(body: bytes) -> None:
    with pytest.raises(RefusedError) as refused:
        HubstaffWebhooks().hint(body)
    assert refused.value.status == 422


def test_the_keyed_handshake_hands_hubstaffs_secret_over() -> None:
    answer = HubstaffWebhooks().keyed_handshake(None, {"x-hook-secret": "abc123"}, b"")
    assert answer is not None
    assert (answer.headers, answer.secret) == ({"X-Hook-Secret": "abc123"}, "abc123")
    assert HubstaffWebhooks().keyed_handshake(None, {}, _stop(STOPPED)) is None
