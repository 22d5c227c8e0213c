"""A request budget of several limits that all hold at once (issue 12: Toggl).

Some providers limit a credential twice: Toggl counts an hourly quota per user and organisation
(Starter: 240 requests, ``402`` when used up) and, under it, a leaky bucket whose safe pace is
about one request a second (``429``). A budget that knew only the quota let the resolver send a
batch's writes at once: the bucket answered ``429``, the borrowing resolver fell back to its
share for a minute, and the hour's quota ran out before the run did.

:func:`windows` puts further windows beside a credential's budget: each request takes its grant
from the first (the quota, the one a service's share and borrowing apply to) and then from every
further window, so no window sees more than its limit. The further windows are kept where the
first is: in the service's database for a :class:`SharedBudget` (each its own row, the first's
key with the window appended, so every process and replica of the service paces together), in
the process otherwise. A ``429`` pauses them all. A shared first budget then takes one grant per
call, never a chunk: the pace lets a process spend little of a chunk within its hold, and the
rest, dropped, would stay counted for the quota's whole window (an hour of Toggl's). The same
first budget always gets the same combined budget, so every client of one credential draws from
one pace.
"""

import weakref
from collections.abc import Sequence

from timebridge_common.outbound.http import RequestBudget
from timebridge_common.outbound.shared_budget import SharedBudget

Window = tuple[int, float]
"""A limit: requests per window in seconds."""


def window_key(key: str, window: Window) -> str:
    """The database key of a further window of the budget ``key``."""
    return f"{key}|{window[0]}/{window[1]:g}s"


class Windows(RequestBudget):
    """A credential's budget (``first``) and further windows that must hold as well.

    It behaves as ``first`` for everything a caller asks of a budget (its limit, lending, the
    floor after a ``429``), and each grant is also taken from every window of ``more`` after
    ``first``'s: the long wait (an hour's quota) comes first, so no pace grant is held while the
    quota is waited for, and a request leaves at most one pace wait after its quota grant
    (well within the quota's slack).
    """

    def __init__(self, first: RequestBudget, more: Sequence[RequestBudget]) -> None:
        super().__init__(first.limit, first.window_s, clock=first._clock, sleep=first._sleep)
        self.first = first
        self.more = tuple(more)

    @property
    def limit_now(self) -> int:
        return self.first.limit_now

    def lend(self, floor: int, cooldown_s: float = 60.0) -> None:
        """Borrowing applies to the first window (the limit the services' shares split)."""
        self.first.lend(floor, cooldown_s)
        self.floor, self.cooldown_s = self.first.floor, self.first.cooldown_s

    async def _take(self) -> None:
        await self.first._take()
        for window in self.more:
            await window._take()

    def pause(self, seconds: float) -> None:
        """The provider said to wait: every window waits (the first keeps to its floor after)."""
        self.first.pause(seconds)
        for window in self.more:
            window.pause(seconds)


_COMBINED: "weakref.WeakKeyDictionary[RequestBudget, Windows]" = weakref.WeakKeyDictionary()


def windows(first: RequestBudget, more: Sequence[Window]) -> RequestBudget:
    """``first`` with the further limits ``more`` (none: ``first`` itself); one combined budget
    per ``first``, so every client of a credential shares its further windows too."""
    if not more or isinstance(first, Windows):
        return first
    combined = _COMBINED.get(first)
    if combined is None:
        clock, sleep = first._clock, first._sleep  # a test's fake time reaches every window
        parts: list[RequestBudget] = [
            SharedBudget(first._pool, window_key(first.key, w), *w, sleep=sleep)
            if isinstance(first, SharedBudget)
            else RequestBudget(*w, clock=clock, sleep=sleep)
            for w in more
        ]
        if isinstance(first, SharedBudget):  # one grant per call: no chunk dropped unspent
            first.chunk_cap = 1
        combined = _COMBINED[first] = Windows(first, parts)
    return combined
