"""A provider's refusal to change locked time, told apart from its other refusals.

Trackers refuse a write to approved, invoiced or closed-period time with an ordinary 4xx whose
message names the lock; the status alone does not say it (a 400 is also a bad body). Each client
states its rule as data (which statuses, which words, from the provider's documentation) and
sends its writes inside :meth:`LockRefusals.raised`, which turns a matching refusal into the
typed error the entry port promises (``EntryLockedError``, never retried) and lets every other
error through unchanged.
"""

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from timebridge_common.outbound.http import ProviderError
from timebridge_providers.kit.ports.entries import EntryLockedError


class LockRefusals:
    """One provider's rule: a refusal with one of ``statuses`` whose body matches ``words``
    (case-insensitive) is locked time, raised as ``error``."""

    def __init__(
        self,
        statuses: Iterable[int],
        words: str,
        *,
        error: type[ProviderError] = EntryLockedError,
    ) -> None:
        self.statuses = frozenset(statuses)
        self.words = re.compile(words, re.IGNORECASE)
        self.error = error

    def matches(self, exc: ProviderError) -> bool:
        return exc.status in self.statuses and bool(self.words.search(exc.body))

    @contextmanager
    def raised(self) -> Iterator[None]:
        """Within it, a matching :class:`ProviderError` is re-raised as ``error`` (chained)."""
        try:
            yield
        except ProviderError as exc:
            if self.matches(exc):
                raise self.error(exc.provider, exc.method, exc.path, exc.status, exc.body) from exc
            raise
