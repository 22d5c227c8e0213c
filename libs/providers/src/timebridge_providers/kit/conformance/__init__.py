"""The conformance suite: the same scenarios for every provider package against its sandbox.

A provider's tests build a :class:`~.rig.Rig` (the provider, a session on its sandbox, fake time,
and a :class:`~.rig.Control` that plays a person using the provider directly) and run every
scenario of :data:`~.scenarios.SCENARIOS` on it; a scenario whose capability the provider does not
offer raises :class:`~.rig.NotOffered` (the test reports it skipped, with the reason). The kit holds
no pytest: ``sandboxes/tests/test_conformance.py`` parametrises it over the installed providers.
"""

from timebridge_providers.kit.conformance.rig import Control, FakeClock, NotOffered, Rig, Work
from timebridge_providers.kit.conformance.scenarios import SCENARIOS, Scenario

__all__ = ["SCENARIOS", "Control", "FakeClock", "NotOffered", "Rig", "Scenario", "Work"]
