"""FreshBooks' callbacks: the signature over the form fields, in the order sent."""

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from urllib.parse import parse_qsl

from timebridge_common.errors import InvalidMessageError
from timebridge_providers.freshbooks.wire import SIGNATURE_HEADER, FormFields, WebhookDelivery
from timebridge_providers.kit.ports.accounting import Entity, Notice, RegistrationCheck, WebhookSpec


def signed_message(fields: FormFields) -> str:
    """What FreshBooks signs: the fields re-serialised as Python's ``json.dumps`` writes a dict
    of strings (received order, default separators)."""
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    return json.dumps({key: str(value) for key, value in pairs})


def webhook_signature(verifier: str, fields: FormFields) -> str:
    """FreshBooks' signature of a delivery: HMAC-SHA256 of :func:`signed_message`, base64."""
    message = signed_message(fields)
    digest = hmac.new(verifier.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook(verifier: str, fields: FormFields, signature: str | None) -> bool:
    """Whether ``signature`` (the ``X-FreshBooks-Hmac-SHA256`` header) signs these fields."""
    if not signature:
        return False
    expected = webhook_signature(verifier, fields)
    return hmac.compare_digest(expected.encode(), signature.encode())


FOLLOWED: dict[str, Entity] = {"client": "client", "invoice": "invoice", "payment": "payment"}
"""The event nouns Timebridge follows (a noun gets all its events: create, update, delete...)."""


def _fields(body: bytes) -> list[tuple[str, str]]:
    """The form's fields in the order sent (the receiver has refused a body that is no form)."""
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


def _verify(verifier: str, body: bytes, signature: str | None) -> bool:
    return verify_webhook(verifier, _fields(body), signature)


def _parse(body: bytes) -> list[Notice] | RegistrationCheck:
    """A callback's verification, or the followed event it names (the connection is the URL's)."""
    try:
        delivery = WebhookDelivery.model_validate(dict(_fields(body)))
    except ValueError as exc:
        raise InvalidMessageError(f"not a FreshBooks callback: {exc}"[:500]) from exc
    if delivery.verifier is not None:
        return RegistrationCheck(str(delivery.object_id), delivery.verifier, delivery.account_id)
    noun, _, operation = delivery.name.partition(".")
    if noun not in FOLLOWED:
        return []
    return [Notice(None, FOLLOWED[noun], str(delivery.object_id), operation or delivery.name)]


def _signed(body: bytes) -> bytes:
    return signed_message(_fields(body)).encode()


WEBHOOKS = WebhookSpec(
    scope="connection",
    signature_header=SIGNATURE_HEADER,
    verify=_verify,
    parse=_parse,
    form=True,
    signed=_signed,
)
