"""The home system's webhook contract, where older callers and tests look for it.

Signing, verification and parsing live in the provider package
(``timebridge_providers.core.webhooks``, see docs/contracts/core-webhooks.md); ingest reaches them
through the registry's observe capability. These names stay importable from here.
"""

from timebridge_providers.core.webhooks import (
    SIGNATURE_HEADER,
    CoreTimeEntryWebhook,
    parse_webhook,
    sign,
    verify_signature,
)

__all__ = ["SIGNATURE_HEADER", "CoreTimeEntryWebhook", "parse_webhook", "sign", "verify_signature"]
