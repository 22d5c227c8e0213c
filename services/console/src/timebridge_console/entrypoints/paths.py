"""Path parameters of the console's pages (validated before anything is forwarded)."""

from typing import Annotated

from fastapi import Path

from timebridge_common.api import WORKSPACE_ID_PATTERN

Ws = Annotated[str, Path(pattern=WORKSPACE_ID_PATTERN, description="Workspace id")]
Id = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
