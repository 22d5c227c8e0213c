"""The installed providers: the one place that lists them.

Adding a provider is a package under ``timebridge_providers`` plus one line here; no service
changes. (An explicit table rather than entry points: an editable install would need re-running
to see a new entry point, and a typo here fails at import, in every test, not in production.)
"""

import importlib
from functools import cache

from timebridge_providers.kit.registry import Provider, Registry

MODULES: tuple[str, ...] = (
    "timebridge_providers.core",
    "timebridge_providers.everhour",
    "timebridge_providers.harvest",
    "timebridge_providers.toggl",
    "timebridge_providers.tempo",
    "timebridge_providers.wrike",
    "timebridge_providers.clickup",
    "timebridge_providers.hubstaff",
    "timebridge_providers.clockify",
    "timebridge_providers.xero_projects",
    "timebridge_providers.zoho",
    "timebridge_providers.quickbooks_time",
    "timebridge_providers.quickbooks",
    "timebridge_providers.xero",
    "timebridge_providers.freshbooks",
    "timebridge_providers.bamboohr",
)


@cache
def registry() -> Registry:
    """Every installed provider, each module's ``PROVIDER``."""
    providers: list[Provider] = []
    for module in MODULES:
        provider = importlib.import_module(module).PROVIDER
        assert isinstance(provider, Provider), module
        providers.append(provider)
    return Registry(providers)
