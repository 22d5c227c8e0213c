"""Upcasters turn the payload of an old event version into the next one.

A consumer moving to ``v(N+1)`` keeps reading the ``v(N)`` topic until it is drained; each old
record is upcast step by step before validation, so the handler only ever sees the newest model.
Every registered upcaster must have a test (tests/test_upcasting.py enforces that).
"""

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]


class Upcasters:
    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def register(self, name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register the step ``name`` v``from_version`` -> v``from_version + 1``."""

        def decorator(fn: Upcaster) -> Upcaster:
            key = (name, from_version)
            if key in self._steps:
                raise ValueError(f"upcaster for {name} v{from_version} already registered")
            self._steps[key] = fn
            return fn

        return decorator

    def upcast(self, name: str, payload: Payload, from_version: int, to_version: int) -> Payload:
        if from_version > to_version:
            raise ValueError(f"{name} v{from_version} is newer than this consumer's v{to_version}")
        for version in range(from_version, to_version):
            step = self._steps.get((name, version))
            if step is None:
                raise ValueError(f"no upcaster for {name} v{version} -> v{version + 1}")
            payload = step(payload)
        return payload

    def registered(self) -> list[tuple[str, int]]:
        return sorted(self._steps)


UPCASTERS = Upcasters()
"""Upcasters of the published events (registered by the modules defining the newer version)."""
