"""The kit's lock rule: a matching refusal becomes the typed error, any other passes unchanged."""

import pytest
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.ports.entries import EntryLockedError

from timebridge_common.outbound.http import ProviderError

RULE = LockRefusals({400, 423}, "approv|lock")


def _refusal(status: int, body: str) -> ProviderError:
    return ProviderError("test", "PUT", "/entries/1", status, body)


@pytest.mark.parametrize(("status", "body"), [(400, "Entry is APPROVED"), (423, "locked")])
def test_a_matching_refusal_is_locked_time(status: int, body: str) -> None:
    refusal = _refusal(status, body)
    with pytest.raises(EntryLockedError) as raised, RULE.raised():
        raise refusal
    assert raised.value.status == status
    assert raised.value.__cause__ is refusal


@pytest.mark.parametrize(("status", "body"), [(400, "bad duration"), (403, "approved")])
def test_any_other_refusal_passes_unchanged(status: int, body: str) -> None:
    refusal = _refusal(status, body)
    with pytest.raises(ProviderError) as raised, RULE.raised():
        raise refusal
    assert raised.value is refusal


def test_the_error_type_is_the_providers_choice() -> None:
    class Locked(ProviderError):
        pass

    with pytest.raises(Locked), LockRefusals({409}, "invoic", error=Locked).raised():
        raise _refusal(409, "already invoiced")
