"""The tracker's projects an admin picks from: the first ones in its order, read no further,
and a tracker that cannot be asked answered with the reason (the route's 502)."""

from collections.abc import AsyncIterator

import pytest
from timebridge_providers.kit.fakes.directory import FakeDirectory
from timebridge_providers.kit.ports.directory import DirectoryProject

from timebridge_common.errors import TransientError
from timebridge_common.refusals import UpstreamError
from timebridge_mapping.handlers.setup import first_projects


class Counting(FakeDirectory):
    """Counts the projects handed out and whether the listing was closed."""

    read: int = 0
    closed: bool = False

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        try:
            for project in self.projects_:
                self.read += 1
                yield project
        finally:
            self.closed = True


async def test_the_first_projects_in_the_trackers_order_and_no_more_are_read() -> None:
    projects = [DirectoryProject(f"p{i}", f"Project {i}", closed=i == 1) for i in range(5)]
    directory = Counting(projects_=projects)
    found = await first_projects(directory, "Tracker", 3)
    assert found == projects[:3]
    assert (directory.read, directory.closed) == (3, True)
    assert await first_projects(Counting(projects_=projects), "Tracker", 500) == projects


class Down(FakeDirectory):
    async def projects(self) -> AsyncIterator[DirectoryProject]:
        yield DirectoryProject("p0", "Project 0")
        raise TransientError("503 Service Unavailable")


async def test_a_tracker_that_cannot_be_asked_is_the_apis_502_with_the_reason() -> None:
    with pytest.raises(UpstreamError) as refused:
        await first_projects(Down(), "Tracker", 500)
    assert refused.value.status == 502
    assert refused.value.reason == "Tracker could not be asked: 503 Service Unavailable"
