"""Core's ``GET /contracts?updated_since=`` (docs/contracts/core.md): the fallback to its signed
contract webhooks, translated exactly as a webhook's contract is (``commercial.py``)."""

import datetime as dt

import structlog
from pydantic import ValidationError

from timebridge_common.events.contracts import ContractObserved
from timebridge_providers.core.client import CoreClient
from timebridge_providers.core.commercial import CoreContract, contract_observed

log = structlog.get_logger(__name__)


class CoreContractsPoll:
    def __init__(self, client: CoreClient) -> None:
        self._client = client

    async def contracts_changed(
        self, workspace_id: str, since: dt.datetime | None
    ) -> list[ContractObserved]:
        params: dict[str, str | int] = {}
        if since is not None:
            params["updated_since"] = since.isoformat()
        found: list[ContractObserved] = []
        async for contract in self._client._pages("/contracts", CoreContract, params):
            try:
                event = contract_observed(workspace_id, contract)
            except ValidationError as exc:
                log.warning("core contract skipped", contract=contract.id, error=str(exc)[:500])
                continue
            found.append(event.model_copy(update={"observed_via": "poll"}))
        return found
