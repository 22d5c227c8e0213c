"""LeanTracer exports the spans the SDK's tracer would (issue 12: the cheaper accept-path spans).

Each case runs the same calls through the SDK tracer and the lean one and compares what the
processors received, ids and times aside: name, kind, attributes, parent, trace id continued,
flags, trace state, status, events, resource and scope. Not sampled stays not exported; a
setting the lean tracer does not mirror (another sampler, a processor with ``on_start``) makes
it the SDK's own. The OTLP exporter encodes both to the same bytes, ids and times aside.
"""

from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, use_span

from timebridge_common.tracing import inject
from timebridge_common.tracing_lean import LeanSpan, LeanTracer

ATTRS: dict[str, str | bool | int | float] = {
    "messaging.system": "kafka",
    "messaging.destination.name": "t.v1",
    "n": 3,
    "ok": True,
}
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


RESOURCE = Resource.create({"service.name": "timebridge-test"})


def provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    tracing = TracerProvider(resource=RESOURCE)
    exporter = InMemorySpanExporter()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    return tracing, exporter


def incoming(traceparent: str = PARENT, tracestate: str = "vendor=1") -> Context:
    return propagate.extract({"traceparent": traceparent, "tracestate": tracestate})


def seen(span: ReadableSpan, ours: list[int]) -> dict[str, Any]:
    """What an exporter reads of a span, ids and times aside (they differ per run): a parent
    among ``ours`` (the run's span ids) by its place, a remote one by its id."""
    events = [
        (e.name, {k: v for k, v in (e.attributes or {}).items() if k != "exception.stacktrace"})
        for e in span.events
    ]
    assert span.parent is None or span.parent.trace_id == span.context.trace_id
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": dict(span.attributes or {}),
        "parent": None
        if span.parent is None
        else ours.index(span.parent.span_id)
        if span.parent.span_id in ours
        else (format(span.parent.span_id, "016x"), span.parent.is_remote),
        "flags": int(span.context.trace_flags),
        "state": span.context.trace_state.to_header(),
        "status": (span.status.status_code, span.status.description),
        "events": events,
        "resource": dict(span.resource.attributes),
        "scope": span.instrumentation_scope,
        "ended": span.end_time is not None and span.start_time is not None,
    }


Start = Callable[..., Span]


def both(run: Callable[[Start], None]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``run`` with the SDK's ``start_span`` and with the lean tracer's, each on its own
    provider: what each exported."""
    results = []
    for lean in (False, True):
        tracing, exporter = provider()
        tracer = tracing.get_tracer("timebridge.test")
        lean_tracer = LeanTracer(tracer)
        assert lean_tracer.lean
        run(lean_tracer.start_span if lean else tracer.start_span)
        spans = exporter.get_finished_spans()
        ours = [s.context.span_id for s in spans]
        results.append([seen(s, ours) for s in spans])
    return results[0], results[1]


def test_a_server_span_continuing_a_caller_and_its_producer_child_are_exported_the_same() -> None:
    def run(start: Start) -> None:
        server = start("POST /x", context=incoming(), kind=SpanKind.SERVER, attributes=ATTRS)
        with use_span(server, end_on_exit=True):
            server.set_attribute("http.response.status_code", 202)
            producer = start("publish t.v1", kind=SpanKind.PRODUCER, attributes=ATTRS)
            headers: dict[str, str] = {}
            inject(headers, trace.set_span_in_context(producer))
            assert headers["traceparent"].split("-")[1] == PARENT.split("-")[1]
            assert headers["traceparent"].split("-")[2] == format(
                producer.get_span_context().span_id, "016x"
            )
            producer.end()

    sdk, lean = both(run)
    assert [s["parent"] for s in sdk] == [1, ("00f067aa0ba902b7", True)]  # publish, then POST
    assert lean == sdk


def test_a_root_span_gets_a_new_trace_flagged_as_the_sdk_flags_it() -> None:
    def run(start: Start) -> None:
        start("publish t.v1", kind=SpanKind.PRODUCER, attributes=ATTRS).end()

    sdk, lean = both(run)
    assert len(sdk) == 1
    assert lean == sdk


def test_failures_record_the_same_exception_event_and_error_status() -> None:
    def run(start: Start) -> None:
        failing = start("POST /x", kind=SpanKind.SERVER)
        with pytest.raises(ValueError, match="bad"), use_span(failing, end_on_exit=True):
            raise ValueError("bad")
        producer = start("publish t.v1", kind=SpanKind.PRODUCER, attributes=ATTRS)
        producer.record_exception(TimeoutError("no ack"))
        producer.set_status(Status(StatusCode.ERROR, "TimeoutError: no ack"))
        producer.set_status(Status(StatusCode.UNSET))  # never overrides
        producer.end()
        producer.end()  # a second end exports nothing more
        ok = start("publish t.v1")
        ok.set_status(StatusCode.OK)
        ok.set_status(StatusCode.ERROR, "after OK: ignored")
        ok.end()

    sdk, lean = both(run)
    assert [s["status"][0] for s in sdk] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.OK]
    assert sdk[0]["events"][0][1]["exception.type"] == "ValueError"
    assert lean == sdk


def test_a_caller_that_does_not_sample_is_followed_and_nothing_is_exported() -> None:
    unsampled = PARENT[:-2] + "00"

    def run(start: Start) -> None:
        span = start("POST /x", context=incoming(unsampled), kind=SpanKind.SERVER)
        assert not span.is_recording()
        headers: dict[str, str] = {}
        inject(headers, trace.set_span_in_context(span))
        assert headers["traceparent"].endswith("-00")
        span.end()

    assert both(run) == ([], [])


class _Watching(SpanProcessor):
    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        del span, parent_context


def test_settings_it_does_not_mirror_leave_the_sdk_tracer_in_charge() -> None:
    watched, _ = provider()
    watched.add_span_processor(_Watching())
    sampled = TracerProvider(sampler=ALWAYS_ON)
    for tracing in (watched, sampled):
        tracer = LeanTracer(tracing.get_tracer("timebridge.test"))
        assert not tracer.lean
        assert not isinstance(tracer.start_span("x"), LeanSpan)
    assert not LeanTracer(trace.NoOpTracer()).lean


def test_the_otlp_exporter_encodes_both_the_same_up_to_ids_and_times() -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import (  # noqa: PLC0415
        encode_spans,
    )

    encoded = []
    for lean in (False, True):
        tracing, exporter = provider()
        tracer = tracing.get_tracer("timebridge.test")
        start = LeanTracer(tracer).start_span if lean else tracer.start_span
        span = start("publish t.v1", context=incoming(), kind=SpanKind.PRODUCER, attributes=ATTRS)
        span.record_exception(TimeoutError("no ack"))
        span.set_status(Status(StatusCode.ERROR, "TimeoutError: no ack"))
        span.end()
        request = encode_spans(exporter.get_finished_spans())
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                for otlp in scope.spans:
                    otlp.span_id = b""
                    otlp.start_time_unix_nano = otlp.end_time_unix_nano = 0
                    for event in otlp.events:
                        event.time_unix_nano = 0
                        for attribute in event.attributes:
                            if attribute.key == "exception.stacktrace":
                                attribute.value.string_value = ""
        encoded.append(request.SerializeToString())
    assert encoded[0] == encoded[1]
