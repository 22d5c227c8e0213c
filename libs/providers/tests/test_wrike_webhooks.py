"""Wrike's secure webhooks: the handshake answered with the HMAC of Wrike's random value, each
delivery's ``X-Hook-Secret`` checked over the raw body, stale deliveries refused and a resent one
keyed the same (the replay window's key); ``X-Request-Hash`` preferred; ``TimelogChanged`` events
naming the timelogs to re-read."""

import datetime as dt
import hashlib
import hmac
import json

import pytest
from timebridge_providers.kit.ports.observe import RefusedError, Signed
from timebridge_providers.wrike.webhooks import (
    SECRET_HEADER,
    SIGNATURE_HEADER,
    WrikeWebhooks,
    authenticate,
    events,
    handshake_answer,
    sign,
)

NOW = dt.datetime(2026, 11, 5, 9, 0, 5, tzinfo=dt.UTC)
SECRET = "wrike-hook-secret-proposed-by-ingest"
HANDSHAKE = json.dumps({"requestType": "WebHook secret verification"}).encode()


def _delivery(updated: str = "2026-11-05T09:00:00Z", task: str = "IEAAAAAQKQAAAAB") -> bytes:
    return json.dumps(
        [
            {
                "taskId": task,
                "webhookId": "IEAAAAAQJAAAAAAB",
                "eventAuthorId": "KUAAAAAB",
                "eventType": "TimelogChanged",
                "lastUpdatedDate": updated,
            }
        ]
    ).encode()


def _auth(body: bytes, headers: dict[str, str], secret: str | None = SECRET) -> Signed:
    return authenticate(secret, headers, body, now=NOW, tolerance_s=300)


def _refused(status: int, reason: str, call: object, *args: object) -> None:
    assert callable(call)
    with pytest.raises(RefusedError) as refused:
        call(*args)
    assert refused.value.status == status
    assert reason in refused.value.reason


def test_sign_is_the_hex_hmac_sha256_of_the_bytes() -> None:
    expected = hmac.new(SECRET.encode(), b"abc", hashlib.sha256).hexdigest()
    assert sign(SECRET, b"abc") == expected


def test_handshake_is_answered_with_the_hmac_of_wrikes_random_value() -> None:
    answer = handshake_answer(SECRET, {"x-hook-secret": "r4nd0m-value"}, HANDSHAKE)
    assert answer == {SECRET_HEADER: sign(SECRET, b"r4nd0m-value")}
    # Another secret answers something else: Wrike would not activate the hook.
    other = handshake_answer(SECRET + "x", {"X-Hook-Secret": "r4nd0m-value"}, HANDSHAKE)
    assert other != answer


def test_a_delivery_is_no_handshake() -> None:
    body = _delivery()
    assert handshake_answer(SECRET, {SECRET_HEADER: sign(SECRET, body)}, body) is None


@pytest.mark.parametrize(
    ("secret", "headers", "reason"),
    [
        (None, {SECRET_HEADER: "v"}, "no secret is kept"),
        (SECRET, {}, "missing or malformed X-Hook-Secret"),
        (SECRET, {SECRET_HEADER: "caf\u00e9"}, "missing or malformed X-Hook-Secret"),
        (SECRET, {SECRET_HEADER: "a\x00b"}, "missing or malformed X-Hook-Secret"),
    ],
)
def test_a_handshake_without_a_secret_or_value_is_refused(
    secret: str | None, headers: dict[str, str], reason: str
) -> None:
    _refused(401, reason, handshake_answer, secret, headers, HANDSHAKE)


def test_a_delivery_signed_with_the_hooks_secret_is_vouched_for() -> None:
    body = _delivery()
    signed = _auth(body, {"x-hook-secret": sign(SECRET, body).upper()})
    assert signed.signed_at == dt.datetime(2026, 11, 5, 9, 0, tzinfo=dt.UTC)
    # Wrike's retry resends the same body: the same replay key.
    again = _auth(body, {SECRET_HEADER: sign(SECRET, body)})
    assert again.delivery_id == signed.delivery_id
    other = _delivery(task="IEAAAAAQKQAAAAC")
    assert _auth(other, {SECRET_HEADER: sign(SECRET, other)}).delivery_id != signed.delivery_id


def test_a_forged_or_altered_delivery_is_refused() -> None:
    body = _delivery()
    good = sign(SECRET, body)
    _refused(401, "does not match", _auth, body + b" ", {SECRET_HEADER: good})
    _refused(401, "does not match", _auth, body, {SECRET_HEADER: sign(SECRET + "x", body)})
    _refused(401, "missing or malformed", _auth, body, {})
    _refused(401, "no secret is kept", _auth, body, {SECRET_HEADER: good}, None)


def test_a_stale_delivery_is_refused_even_when_signed() -> None:
    body = _delivery(updated="2026-11-05T08:50:00Z")
    _refused(401, "more than 300s", _auth, body, {SECRET_HEADER: sign(SECRET, body)})


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"\xff\xfe", 400),
        (b"{}", 422),
        (b"[]", 422),
        (b"[1]", 422),
        (json.dumps([{"eventType": "TimelogChanged"}]).encode(), 422),
        (json.dumps([{"lastUpdatedDate": "2026-11-05T09:00:00"}]).encode(), 422),
    ],
)
def test_signed_bytes_that_are_no_delivery_are_a_4xx(body: bytes, status: int) -> None:
    with pytest.raises(RefusedError) as refused:
        _auth(body, {SECRET_HEADER: sign(SECRET, body)})
    assert refused.value.status == status


def test_events_are_the_delivery_array() -> None:
    assert [e["eventType"] for e in events(_delivery())] == ["TimelogChanged"]


def _timelogs(*events: dict[str, object]) -> bytes:
    base = {
        "taskId": "IEAAAAAQKQAAAAB",
        "webhookId": "IEAAAAAQJAAAAAAB",
        "eventAuthorId": "KUAAAAAB",
        "eventType": "TimelogChanged",
        "lastUpdatedDate": "2026-11-05T09:00:00Z",
    }
    return json.dumps([{**base, **e} for e in events]).encode()


def test_a_delivery_signed_x_request_hash_is_vouched_for_and_preferred() -> None:
    body = _timelogs({"timeTrackerId": "IEAL1", "type": "Added", "hours": "1"})
    assert _auth(body, {SIGNATURE_HEADER: sign(SECRET, body)}).signed_at.hour == 9
    # Both present: X-Request-Hash is the one checked.
    headers = {SIGNATURE_HEADER: sign("guessed", body), SECRET_HEADER: sign(SECRET, body)}
    _refused(401, "does not match", _auth, body, headers)


def test_timelog_events_name_the_timelogs_to_re_read_once_each() -> None:
    body = _timelogs(
        {"timeTrackerId": "IEAL1", "type": "Updated"},
        {"eventType": "TaskTitleChanged"},
        {"timeTrackerId": "IEAL2", "type": "Removed", "taskId": "IEAT9"},
        {"timeTrackerId": "IEAL1", "type": "Updated"},
    )
    hints = WrikeWebhooks().hints(body)
    assert [(h.external_id, h.task_id, h.user_id) for h in hints] == [
        ("IEAL1", "IEAAAAAQKQAAAAB", "KUAAAAAB"),
        ("IEAL2", "IEAT9", "KUAAAAAB"),
    ]
    assert hints[0].date == dt.date(2026, 11, 5)
    assert WrikeWebhooks().hint(body).external_id == "IEAL1"


@pytest.mark.parametrize(
    "body",
    [
        _timelogs({"eventType": "TaskTitleChanged"}),
        _timelogs({"timeTrackerId": "IEAL 1"}),
        _timelogs({"timeTrackerId": 42}),
        _timelogs({"timeTrackerId": "IEAL1", "eventAuthorId": None}),
        b'{"event": "api:time:updated", "payload": {}}',
    ],
)
def test_a_delivery_naming_no_timelog_is_a_422(body: bytes) -> None:
    _refused(422, "", WrikeWebhooks().hints, body)


def test_the_keyed_handshake_answers_with_the_kept_secret_and_hands_none_over() -> None:
    answer = WrikeWebhooks().keyed_handshake(SECRET, {"X-Hook-Secret": "v4lue"}, HANDSHAKE)
    assert answer is not None
    assert answer.headers == {SECRET_HEADER: sign(SECRET, b"v4lue")}
    assert answer.secret is None
    assert WrikeWebhooks().keyed_handshake(SECRET, {}, _timelogs({"timeTrackerId": "A"})) is None
    assert WrikeWebhooks().handshake({"X-Hook-Secret": "v4lue"}) is None
