"""OpenTelemetry tracing (context carried in the ``traceparent`` header of every event) and JSON logs
that carry trace ids. Logs never include message bodies or personal data: pass ids via ``extra``."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
# a credential in a URL's query: the WebSocket's ``?token=`` (an API key), which uvicorn logs with
# the path of every WebSocket it accepts or refuses
_QUERY_SECRET = re.compile(r"([?&](?:token|api_key|access_token)=)[^&\s\"']+", re.IGNORECASE)
_STD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        span_ctx = trace.get_current_span().get_span_context()
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if span_ctx.is_valid:
            out["trace_id"] = format(span_ctx.trace_id, "032x")
            out["span_id"] = format(span_ctx.span_id, "016x")
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                out[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class RedactSecrets(logging.Filter):
    """Replaces credentials in a log line's URLs with ``[redacted]`` before any formatter sees it:
    logs must carry no API key (ARCHITECTURE.md, quality bars), whoever logs the URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _QUERY_SECRET.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup(service: str, *, level: str = "INFO", fmt: str = "json") -> None:
    """Install the tracer provider (once per process) and the log format.

    Meridian exports no spans itself, so its own provider records none (ALWAYS_OFF): a span still
    gets its ids, which continue the caller's trace, ride in every event's ``traceparent`` and appear
    in the logs, at a fraction of a recorded span's cost. A provider installed before (e.g. by
    ``opentelemetry-instrument`` with an exporter) is kept, with its own sampling."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider(resource=Resource.create({"service.name": service}),
                                                 sampler=ALWAYS_OFF))
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not any(getattr(h, "_meridian", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        handler.setFormatter(JsonFormatter() if fmt == "json" else plain)
        handler.addFilter(RedactSecrets())
        handler._meridian = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("aiokafka", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def tracer(name: str = "meridian") -> trace.Tracer:
    return trace.get_tracer(name)


def _records_nothing(provider: trace.TracerProvider) -> bool:
    """Meridian's own provider (see ``setup``): every span it makes is a NonRecordingSpan."""
    return isinstance(provider, TracerProvider) and provider.sampler is ALWAYS_OFF


# version-traceid-parentid-flags, lowercase hex; a version after 00 may append "-..." fields
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?", re.DOTALL)
_NO_PARENT = "0" * 16


def _trace_id(traceparent: str) -> int:
    """The trace id of a W3C ``traceparent``; 0 when it is absent or malformed, as the W3C
    propagator would read it."""
    match = _TRACEPARENT.fullmatch(traceparent.strip())
    if match is None:
        return 0
    version, trace_hex, parent_hex, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None) or parent_hex == _NO_PARENT:
        return 0
    return int(trace_hex, 16)


def current_traceparent() -> str:
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return ""
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def span_from(traceparent: str, name: str, *, kind: SpanKind = SpanKind.CONSUMER,
              **attributes: str) -> AbstractContextManager[Span]:
    """A span (``with span_from(...)``) whose parent is the context in ``traceparent`` (empty: a
    new trace).

    Under Meridian's own provider, which records nothing, the span is made here: new ids in the
    caller's trace, exactly what the SDK's ALWAYS_OFF path makes, without its sampler, attributes
    and processors (~83 µs → ~5 µs a span in a micro-benchmark, and every event and request has
    one)."""
    provider = trace.get_tracer_provider()
    if _records_nothing(provider):
        return _UnrecordedSpan(traceparent, provider.id_generator)
    return _recorded_span(traceparent, name, kind, attributes)


class _UnrecordedSpan:
    __slots__ = ("_traceparent", "_ids", "_token")

    def __init__(self, traceparent: str, ids: Any) -> None:
        self._traceparent = traceparent
        self._ids = ids

    def __enter__(self) -> Span:
        ids = self._ids
        span = NonRecordingSpan(SpanContext(_trace_id(self._traceparent) or ids.generate_trace_id(),
                                            ids.generate_span_id(), is_remote=False, trace_flags=_DEFAULT_FLAGS))
        self._token = otel_context.attach(trace.set_span_in_context(span, _EMPTY_CONTEXT))
        return span

    def __exit__(self, *exc: object) -> None:
        otel_context.detach(self._token)


_DEFAULT_FLAGS = TraceFlags(TraceFlags.DEFAULT)
_EMPTY_CONTEXT = otel_context.Context()


@contextmanager
def _recorded_span(traceparent: str, name: str, kind: SpanKind, attributes: dict[str, str]) -> Iterator[Span]:
    ctx = _propagator.extract({"traceparent": traceparent}) if traceparent else otel_context.Context()
    with tracer().start_as_current_span(name, context=ctx, kind=kind, attributes=attributes) as span:
        yield span


class TraceContextMiddleware:
    """Each HTTP request and WebSocket connection runs in a (non-recorded) server span that continues
    the caller's ``traceparent`` or starts a trace: its events and log lines carry the trace.

    Used instead of FastAPI's built-in telemetry, which builds a span with attributes, metrics and
    log hooks per request: ~170 µs of a ~200 µs in-process request in a micro-benchmark, paid twice
    per webhook (gateway and ingest)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        traceparent = ""
        for name, value in scope.get("headers", ()):
            if name == b"traceparent":
                traceparent = value.decode("latin-1")
                break
        with span_from(traceparent, f"{scope.get('method', 'WS')} {scope.get('path', '')}", kind=SpanKind.SERVER):
            await self.app(scope, receive, send)
