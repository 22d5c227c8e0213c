"""Spans of the hot paths without the SDK's per-span machinery (issue 12).

Ingest's accept path opens two spans per webhook (the server span, the producer span of its
publish). The OpenTelemetry SDK's ``Tracer.start_span`` and ``Span`` cost more than the rest of
a span's life: the sampler's call chain, a lock per span, ``BoundedAttributes`` cleaning every
attribute (copied into a locked mapping), bounded lists for events and links, the processors'
``on_start``/``_on_ending`` hooks. :class:`LeanTracer` makes the same spans with what they
need and hands each ended span to the provider's processors as the SDK's
:class:`~opentelemetry.sdk.trace.ReadableSpan` (what exporters read), so traces are exported
as before: same names, kinds, attributes, parents, ids, flags, status and exception events.

It is only used when it decides exactly what the SDK would, and falls back to the SDK tracer
otherwise: the default sampler (``ParentBased(ALWAYS_ON)``, :data:`_DEFAULT_SAMPLER`), the
SDK's internal span metrics off, the tracer enabled, and only processors whose ``on_start``
and ``_on_ending`` do nothing (batch and simple processors, :data:`_PLAIN_PROCESSORS`).
Attributes must already be clean (``str``, ``bool``, ``int`` or ``float`` values, as every
caller passes): they are not filtered.
"""

import traceback
from collections.abc import Mapping
from time import time_ns
from types import TracebackType
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace._tracer_metrics import NoOpTracerMetrics
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types

AttributeValue = str | bool | int | float
_DEFAULT_SAMPLER = ParentBased(ALWAYS_ON).get_description()  # type: ignore[no-untyped-call]
_PLAIN_PROCESSORS = (BatchSpanProcessor, SimpleSpanProcessor)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)


def _lean_possible(tracer: trace.Tracer) -> bool:
    if not isinstance(tracer, SdkTracer) or not tracer._is_enabled():
        return False
    if tracer.sampler.get_description() != _DEFAULT_SAMPLER:
        return False
    if not isinstance(tracer._tracer_metrics, NoOpTracerMetrics):
        return False
    processors: tuple[SpanProcessor, ...] = getattr(
        tracer.span_processor, "_span_processors", (tracer.span_processor,)
    )
    return all(type(p) in _PLAIN_PROCESSORS for p in processors)


class LeanTracer:
    """Starts spans like ``tracer.start_span`` (see the module for when it is the SDK's own)."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self._sdk = tracer if isinstance(tracer, SdkTracer) and _lean_possible(tracer) else None

    @property
    def lean(self) -> bool:
        return self._sdk is not None

    def start_span(
        self,
        name: str,
        context: context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> Span:
        """A started span, child of ``context``'s span (else the current one's)."""
        sdk = self._sdk
        if sdk is None:
            return self.tracer.start_span(name, context, kind, attributes)
        parent: SpanContext | None = trace.get_current_span(context).get_span_context()
        ids = sdk.id_generator
        if parent is not None and parent.is_valid:
            trace_id, random_id = parent.trace_id, parent.trace_flags.random_trace_id
            # ParentBased(ALWAYS_ON): a sampled parent's child is sampled, any other is not.
            flags = _SAMPLED if parent.trace_flags.sampled else _NOT_SAMPLED
            state = parent.trace_state
        else:
            trace_id, random_id = ids.generate_trace_id(), ids.is_trace_id_random()
            flags, state, parent = _SAMPLED, None, None
        if random_id:
            flags = TraceFlags(flags | TraceFlags.RANDOM_TRACE_ID)
        own = SpanContext(
            trace_id, ids.generate_span_id(), is_remote=False, trace_flags=flags, trace_state=state
        )
        if not flags.sampled:
            return trace.NonRecordingSpan(own)
        return LeanSpan(sdk, name, own, parent, kind, dict(attributes) if attributes else {})


class LeanSpan(Span):
    """A recording span handed to the processors as a ``ReadableSpan`` when it ends."""

    __slots__ = (
        "_attributes",
        "_context",
        "_end",
        "_events",
        "_kind",
        "_name",
        "_parent",
        "_start",
        "_status",
        "_tracer",
    )

    def __init__(  # noqa: PLR0917 - built in one place, by LeanTracer
        self,
        tracer: SdkTracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes = attributes
        self._events: list[Event] = []
        self._status = Status(StatusCode.UNSET)
        self._start = time_ns()
        self._end: int | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def attributes(self) -> Mapping[str, Any]:
        return self._attributes

    @property
    def status(self) -> Status:
        return self._status

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end is None

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        if self._end is None:
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        if self._end is None:
            self._attributes.update(attributes)

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        if self._end is None:
            self._events.append(Event(name, attributes, timestamp))

    def update_name(self, name: str) -> None:
        if self._end is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """As the SDK: ``OK`` is final, ``UNSET`` never overrides, a description only on
        ``ERROR``."""
        if self._end is not None or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self._status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """The SDK's exception event (same attributes, built the same way)."""
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        recorded: dict[str, Any] = {
            "exception.type": f"{module}.{qualname}"
            if module and module != "builtins"
            else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            recorded.update(attributes)
        self.add_event("exception", recorded, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end is not None:
            return
        self._end = end_time if end_time is not None else time_ns()
        sdk = self._tracer
        sdk.span_processor.on_end(
            ReadableSpan(
                name=self._name,
                context=self._context,
                parent=self._parent,
                resource=sdk.resource,
                attributes=self._attributes,
                events=self._events,
                kind=self._kind,
                status=self._status,
                start_time=self._start,
                end_time=self._end,
                instrumentation_info=sdk.instrumentation_info,
                instrumentation_scope=sdk._instrumentation_scope,
            )
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_val is not None and self.is_recording():
            self.record_exception(exc_val, escaped=True)
            self.set_status(Status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}"))
        self.end()
