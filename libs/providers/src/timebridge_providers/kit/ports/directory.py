"""The directory: a provider's users, projects and tasks, and creating a task.

(Owned by the mapping move; this first cut names the shapes the registry refers to.)
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    external_id: str
    email: str | None
    name: str | None
    active: bool = True


class Directory(Protocol):
    """Who and what a provider's account holds."""

    async def users(self) -> list[DirectoryUser]: ...
