"""The production accounting tools (``adapters/tools.py``) against the in-process sandboxes:
this module, what holds for every tool; ``test_tools_<tool>``, each tool on its sandbox.

Each tool goes through what the handlers do with it: consent and the companies it gave, the
client mirror, changes made in the tool, exports repeated and with lost answers, and invoices
changed in the tool afterwards. Time is fake (retries and budgets cost nothing); a lost answer
costs the transport's real timeout.
"""

import pytest
from accounting_tool_rigs import (
    REDIRECT,
    UNCONFIGURED,
)

from timebridge_invoice_export.adapters.tools import ProductionTools
from timebridge_invoice_export.handlers.ports import (
    NotConfiguredError,
)


async def test_unconfigured_tools_name_the_settings_to_set() -> None:
    tools = ProductionTools(UNCONFIGURED)
    expected: tuple[tuple[str, str], ...] = (
        ("quickbooks", "TB_QUICKBOOKS__CLIENT_ID"),
        ("xero", "TB_XERO__CLIENT_SECRET"),
        ("freshbooks", "TB_FRESHBOOKS__CLIENT_ID"),
    )
    for provider, variable in expected:
        with pytest.raises(NotConfiguredError, match=variable):
            tools.oauth(provider, REDIRECT)
    with pytest.raises(NotConfiguredError, match="not an accounting tool"):
        tools.oauth("nope", REDIRECT)
    await tools.aclose()
