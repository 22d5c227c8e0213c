"""What a tracker's profile says it keeps must be what a read-back can confirm (issue 8).

The conflict-resolver counts a write as synced only when the record read back equals what was
written in every field the tracker keeps (``Profile.kept_fields``). A kept field that cannot be
written (a record carrying its user's or the connection's zone, not the entry's) would make every
entry logged in another zone fail its read-back. The only exception is a billable flag a task or
project decides: it is reported as a difference, never written.
"""

import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.registry import Provider

WRITABLE = [p for p in registry() if p.profile.kind == "tracker" and p.entries is not None]


@pytest.mark.parametrize("provider", WRITABLE, ids=lambda p: p.name)
def test_every_field_a_tracker_keeps_is_written_or_decided_elsewhere(provider: Provider) -> None:
    profile = provider.profile
    decided_elsewhere = {"billable"} if profile.billable in {"task", "project"} else set()
    assert profile.kept_fields - profile.writable_fields <= decided_elsewhere
