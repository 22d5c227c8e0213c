"""What the handlers need from the outside world (Postgres and test fakes implement it)."""

from typing import Protocol


class WebhookSecrets(Protocol):
    async def get(self, workspace_id: str, source: str) -> str | None: ...

    async def put(self, workspace_id: str, source: str, secret: str) -> None: ...
