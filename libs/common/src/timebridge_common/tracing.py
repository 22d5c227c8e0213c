"""OpenTelemetry tracing, with context carried through Kafka headers.

Each service gets its own ``TracerProvider`` (so tests can run several services in one process and
still tell their spans apart); the W3C ``traceparent``/``tracestate`` headers link a consumer's span
to the producer's, so one trace spans a webhook, every event it causes and every handler.
"""

from collections.abc import Mapping, MutableMapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from timebridge_common.config import TelemetryConfig


def make_tracer_provider(
    service: str,
    config: TelemetryConfig,
    *,
    extra_processors: tuple[SpanProcessor, ...] = (),
) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": f"timebridge-{service}"}))
    if config.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(config.otlp_endpoint)))
    for processor in extra_processors:
        provider.add_span_processor(processor)
    return provider


def inject(headers: MutableMapping[str, str], context: Context | None = None) -> None:
    """Write the trace context (the current one unless given) into ``headers`` (W3C)."""
    propagate.inject(headers, context)
    if "traceparent" in headers:
        # The same value as the CloudEvents distributed-tracing extension attribute.
        headers["ce_traceparent"] = headers["traceparent"]


def extract(headers: Mapping[str, str]) -> Context:
    return propagate.extract(dict(headers))


def current_ids() -> tuple[str, str] | None:
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
