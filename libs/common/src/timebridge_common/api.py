"""HTTP API building blocks shared by the services' routers."""

from typing import Annotated

from fastapi import Path
from pydantic import Field

WORKSPACE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

WorkspaceIdPath = Annotated[str, Path(pattern=WORKSPACE_ID_PATTERN, description="Workspace id")]

CREDENTIAL_PATTERN = r"^[!-~]+$"

Credential = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        pattern=CREDENTIAL_PATTERN,
        description="Visible ASCII, as the providers issue them (sent on in HTTP headers)",
    ),
]
"""An API key or token a client hands over for a provider. Providers' keys are visible ASCII;
anything else could never work and failed late (a header cannot carry it): refused with 422."""
