"""The webhook scenario: a good, bad, stale and replayed delivery, per the provider's scheme.

``signed`` (the delivery carries the change): a delivery the sandbox sent verifies; one whose body
or secret differs, or signed longer ago than the tolerance, is refused with 401; the same delivery
again verifies to the same delivery id (what the receiver's replay window keys on). ``hint``
(to a secret URL): the registration handshake is answered; a provider that signs its deliveries
with the hook's secret (the one proposed at registration, or the one it answered with) has them
authenticated with it, and refuses (401) a wrong secret or a delivery without its signature; one
that signs nothing ignores the secret; a delivery names the record; a body naming nothing is
refused with 422; a forged or replayed delivery changes nothing, since the record is re-read
through the API. A provider without webhooks is polled: not offered.
"""

import datetime as dt
import json

from timebridge_providers.kit.conformance.rig import NotOffered, Rig
from timebridge_providers.kit.ports.observe import Hint, RefusedError, hook_activation, webhooks_of

TOLERANCE_S = 300


def _refusal(call: object, *args: object, **kwargs: object) -> RefusedError | None:
    assert callable(call)
    try:
        call(*args, **kwargs)
    except RefusedError as exc:
        return exc
    return None


def _refused(status: int, call: object, *args: object, **kwargs: object) -> None:
    assert callable(call)
    try:
        call(*args, **kwargs)
    except RefusedError as exc:
        refused = exc
    else:
        raise AssertionError(f"accepted what must be refused with {status}")
    assert refused.status == status, f"refused with {refused.status}: {refused.reason}"


async def webhook_signatures(rig: Rig) -> None:
    intake = webhooks_of(rig.provider.observe)
    if intake is None:
        raise NotOffered(f"{rig.provider.name} has no webhooks: it is polled")
    now = dt.datetime.now(dt.UTC)
    today, eight = now.date(), dt.time(8)
    if intake.scheme == "signed":
        external_id = await rig.control.add(rig.fields(today, eight, 900, "webhook"))
        captured = (await rig.control.deliveries())[-1]
        header = next(
            v for k, v in captured.headers.items() if k.lower() == intake.signature_header.lower()
        )
        secret, account = rig.control.webhook_secret, rig.control.account
        good = intake.verify(
            secret, header, captured.body, account=account, now=now, tolerance_s=TOLERANCE_S
        )
        assert good.change is not None
        assert good.change.external_id == external_id
        _refused(
            401,
            intake.verify,
            secret,
            header,
            captured.body + b" ",
            account=account,
            now=now,
            tolerance_s=TOLERANCE_S,
        )
        _refused(
            401,
            intake.verify,
            secret + "x",
            header,
            captured.body,
            account=account,
            now=now,
            tolerance_s=TOLERANCE_S,
        )
        stale = rig.control.sign(captured.body, now - dt.timedelta(seconds=TOLERANCE_S + 60))
        _refused(
            401,
            intake.verify,
            secret,
            stale,
            captured.body,
            account=account,
            now=now,
            tolerance_s=TOLERANCE_S,
        )
        again = intake.verify(
            secret, header, captured.body, account=account, now=now, tolerance_s=TOLERANCE_S
        )
        assert again.delivery_id == good.delivery_id, "a replay carries the same delivery id"
        return
    observer = rig.provider.observe(rig.session()) if rig.provider.observe else None
    assert observer is not None
    if observer.hooks is None:
        raise NotOffered(f"{rig.provider.name}'s hooks are not registered per connection")
    if hook_activation(observer.hooks) is not None:
        raise NotOffered(
            f"{rig.provider.name}'s hooks deliver once activated with the secret its handshake"
            " hands the receiver, and name no single record: its own test"
        )
    proposed = "conformance-proposed-secret-0123456789"
    hook = await observer.hooks.register(
        "https://receiver.test/v1/webhooks/conformance-secret", proposed
    )
    assert hook.active, "registered after the handshake was answered"
    fields = rig.fields(today, eight, 1200, "webhook")
    external_id = await rig.control.add(fields)
    captured = (await rig.control.deliveries())[-1]
    secret = hook.secret or proposed
    signed = intake.authenticate(
        secret, captured.headers, captured.body, now=now, tolerance_s=TOLERANCE_S
    )
    wrong = _refusal(
        intake.authenticate,
        "not-the-hooks-secret",
        captured.headers,
        captured.body,
        now=now,
        tolerance_s=TOLERANCE_S,
    )
    if wrong is not None:
        assert wrong.status == 401, f"a wrong secret refused with {wrong.status}"
        _refused(401, intake.authenticate, secret, {}, captured.body, now=now, tolerance_s=300)
    else:
        assert signed is None, "a provider that ignores the secret vouches for nothing"
        unsigned = intake.authenticate(None, {}, captured.body, now=now, tolerance_s=300)
        assert unsigned is None
    hint = intake.hint(captured.body)
    assert hint.external_id == external_id
    _refused(422, intake.hint, b'{"event": "api:time:updated", "payload": {}}')
    forged_body = json.loads(captured.body)
    forged = intake.hint(json.dumps(forged_body).encode())
    reread = await observer.reread([forged, forged], now=now)
    assert reread, "the hinted record is re-read"
    assert all(c.fields.duration_seconds == fields.duration_seconds for c in reread), (
        "what a delivery claims is never trusted: the record is read through the API"
    )
    assert isinstance(hint, Hint)
