"""Core webhook bodies with text no store can hold (NUL, lone surrogates) are found whatever
their spelling, though the full search only runs on bodies the byte pre-check flags (issue 12)."""

import json

import pytest
from timebridge_providers.core.webhooks import _MAYBE_UNSTORABLE, _unstorable, parse_webhook
from timebridge_providers.kit.ports.observe import RefusedError as RejectedError

TRICKY = [
    b'{"notes": "\\u0000"}',
    b'{"notes": "a\\ud800b"}',
    b'{"notes": "\\uDFFF"}',
    b'{"notes": "\\uDbFf"}',
    b'{"n\\u0000": 1}',
    b'{"notes": "\xed\xa0\x80"}',  # a surrogate's UTF-8-like bytes (decoded with surrogatepass)
    '{"notes": "\ud800"}'.encode("utf-16-le", "surrogatepass"),
    '{"notes": "\\u0000"}'.encode("utf-32"),
    b'["\\\\\\u0000"]',
]
HARMLESS = [
    b'{"notes": "\\ud83d\\ude00"}',  # a valid pair: flagged, then found harmless
    b'{"notes": "\\\\u0000"}',  # an escaped backslash, then the text u0000
    b'{"notes": "\xf0\x9f\x98\x80 caf\xc3\xa9 \\u00e9 \\u1234"}',
    b'{"notes": "plain"}',
]


@pytest.mark.parametrize("body", TRICKY)
def test_every_spelling_of_unstorable_text_is_flagged_and_found(body: bytes) -> None:
    assert _unstorable(json.loads(body))
    assert _MAYBE_UNSTORABLE.search(body)
    with pytest.raises(RejectedError) as refused:
        parse_webhook(body, "acme")
    assert refused.value.status == 422
    assert "NUL or lone surrogate" in refused.value.reason


@pytest.mark.parametrize("body", HARMLESS)
def test_harmless_text_is_not_refused_for_it(body: bytes) -> None:
    assert not _unstorable(json.loads(body))
    with pytest.raises(RejectedError) as refused:  # not a Core webhook, but not for its text
        parse_webhook(body, "acme")
    assert "NUL or lone surrogate" not in refused.value.reason
