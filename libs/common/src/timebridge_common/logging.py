"""structlog JSON logging that carries the current trace and span ids."""

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from timebridge_common.config import TelemetryConfig
from timebridge_common.tracing import current_ids


def _add_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    ids = current_ids()
    if ids is not None:
        event["trace_id"], event["span_id"] = ids
    return event


class _Static:
    def __init__(self, **values: str) -> None:
        self._values = values

    def __call__(
        self, _: Any, __: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in self._values.items():
            event.setdefault(key, value)
        return event


def configure_logging(service: str, config: TelemetryConfig) -> None:
    """Configure structlog (and the stdlib root logger) for one process."""
    level = logging.getLevelNamesMapping().get(config.log_level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if config.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _Static(service=service),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_ids,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr, force=True)
