"""Every registered upcaster of the published events has a test here.

The guard below fails when an upcaster is registered in ``UPCASTERS`` without a matching entry in
``TESTED``; add the step's test and its key together.
"""

from timebridge_common.events.upcasting import UPCASTERS

TESTED: set[tuple[str, int]] = set()


def test_every_registered_upcaster_is_tested() -> None:
    untested = set(UPCASTERS.registered()) - TESTED
    assert not untested, f"upcasters without a test: {sorted(untested)}"
