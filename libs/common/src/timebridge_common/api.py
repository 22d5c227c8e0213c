"""HTTP API building blocks shared by the services' routers."""

from typing import Annotated

from fastapi import Path

WORKSPACE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

WorkspaceIdPath = Annotated[str, Path(pattern=WORKSPACE_ID_PATTERN, description="Workspace id")]
