"""``kit.listed``'s pieces (issue 12): a user's dates cut into windows a listing may cover, and a
read kept per credential shared by the writers asking at once, a failed one not kept."""

import asyncio
import datetime as dt

import pytest
from timebridge_providers.kit.listed import kept, windows

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import RequestBudget

DAY = dt.date(2026, 3, 2)


def test_each_users_dates_are_listed_in_windows_of_at_most_31_days() -> None:
    far = DAY + dt.timedelta(days=31)
    days = [("2", DAY), ("1", DAY + dt.timedelta(days=3)), ("1", DAY), ("1", far), ("2", DAY)]

    assert windows(days) == [
        ("1", DAY, DAY + dt.timedelta(days=3)),
        ("1", far, far),
        ("2", DAY, DAY),
    ]


async def test_a_kept_read_is_shared_by_the_callers_at_once_and_a_failure_is_not_kept() -> None:
    budget = RequestBudget(10, 1)
    calls = 0

    async def read() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 1:
            raise TransientError("the provider is down")
        return calls

    with pytest.raises(TransientError):
        await kept(budget, "users", read)
    answers = await asyncio.gather(*(kept(budget, "users", read) for _ in range(5)))

    assert answers == [2] * 5  # read again after the failure, once for all five
    assert await kept(budget, "users", read) == 2  # kept
    assert await kept(budget, "users", read, again=True) == 3
    assert await kept(RequestBudget(10, 1), "users", read) == 4  # another credential's
