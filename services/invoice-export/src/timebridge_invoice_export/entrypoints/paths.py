"""What every route of the HTTP API shares: the workspace prefix and path parameters."""

from typing import Annotated

from fastapi import Path
from pydantic import Field

from timebridge_common.api import WorkspaceIdPath

__all__ = ["WS", "Currency", "Id", "ProviderPath", "WorkspaceIdPath"]

WS = "/v1/workspaces/{workspace_id}"
Id = Annotated[str, Path(min_length=1, max_length=200)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]
ProviderPath = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
"""An accounting tool's registry name."""
