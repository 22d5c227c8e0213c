"""The one refusal every ingest use case raises: an HTTP status and the reason to show.

It is the provider kit's ``RefusedError``, so a provider package refusing a webhook (a bad
signature, a delivery naming nothing storable) is answered like any other refusal.
"""

from timebridge_providers.kit.ports.observe import RefusedError as RejectedError

__all__ = ["RejectedError"]
