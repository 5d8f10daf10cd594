"""Trace context rides in event headers; logs are JSON lines carrying the trace id."""

from __future__ import annotations

import json
import logging

from meridian import telemetry
from meridian.telemetry import JsonFormatter, current_traceparent, span_from
from opentelemetry import trace


def test_a_consumer_span_continues_the_publishers_trace():
    telemetry.setup("test", fmt="json")
    with telemetry.tracer().start_as_current_span("publish ticket.messages.v1"):
        parent = trace.get_current_span().get_span_context()
        header = current_traceparent()
    assert header.startswith("00-") and format(parent.trace_id, "032x") in header
    with span_from(header, "process ticket.messages.v1") as span:
        ctx = span.get_span_context()
        assert ctx.trace_id == parent.trace_id and ctx.span_id != parent.span_id
        assert format(parent.trace_id, "032x") in current_traceparent()   # and goes on to the next event


def test_spans_carry_ids_without_being_recorded():
    """Nothing exports spans, so none is recorded; a new trace still gets real ids."""
    telemetry.setup("test", fmt="json")
    with span_from("", "process ticket.messages.v1") as span:
        ctx = span.get_span_context()
        assert not span.is_recording()
        assert ctx.is_valid and ctx.trace_id != 0


def test_json_logs_carry_trace_id_and_extra_ids():
    telemetry.setup("test", fmt="json")
    record = logging.LogRecord("meridian.test", logging.INFO, __file__, 1, "handled", (), None)
    record.event_id = "e1"
    with telemetry.tracer().start_as_current_span("x"):
        line = json.loads(JsonFormatter().format(record))
        expected = format(trace.get_current_span().get_span_context().trace_id, "032x")
    assert line["trace_id"] == expected
    assert line["event_id"] == "e1" and line["msg"] == "handled" and line["level"] == "INFO"


async def test_requests_run_in_a_span_continuing_the_callers_trace():
    from meridian.telemetry import TraceContextMiddleware

    telemetry.setup("test", fmt="json")
    seen: list[str] = []

    async def app(scope, receive, send):  # noqa: ANN001
        seen.append(current_traceparent())

    middleware = TraceContextMiddleware(app)
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await middleware({"type": "http", "method": "POST", "path": "/x", "headers": [(b"traceparent", caller.encode())]},
                     None, None)
    await middleware({"type": "http", "method": "GET", "path": "/y", "headers": []}, None, None)
    assert seen[0].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"      # the caller's trace goes on
    assert seen[0].split("-")[2] != "b7ad6b7169203331"                      # in a span of its own
    assert seen[1].split("-")[1] not in ("", "0" * 32, "0af7651916cd43dd8448eb211c80319c")  # a new trace


def test_traceparent_is_read_as_the_w3c_propagator_reads_it():
    from meridian.telemetry import _trace_id
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    cases = ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
             "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
             "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future",
             "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
             "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
             " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n",
             "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
             "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
             "00-00000000000000000000000000000000-b7ad6b7169203331-01",
             "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
             "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",
             "00-+af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
             "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", "garbage", ""]
    propagator = TraceContextTextMapPropagator()
    for header in cases:
        ctx = trace.get_current_span(propagator.extract({"traceparent": header})).get_span_context()
        assert _trace_id(header) == (ctx.trace_id if ctx.is_valid else 0), header


def test_a_provider_that_records_gets_recorded_spans(monkeypatch):
    """Installed before Meridian's (e.g. by opentelemetry-instrument with an exporter): its spans
    are made by its own tracer, with the span's name and attributes."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with span_from(caller, "process ticket.messages.v1", event_id="e1") as span:
        assert span.is_recording()
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "process ticket.messages.v1" and finished.attributes["event_id"] == "e1"
    assert format(finished.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"


async def test_logs_never_carry_the_websockets_token():
    """uvicorn logs the path and query of every WebSocket it accepts, and the contract's client
    passes its API key as ``?token=``: the log line keeps the path, not the key."""
    import asyncio
    import io
    import socket

    import uvicorn
    import websockets

    telemetry.setup("test", level="INFO", fmt="json")
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "_meridian", False)]
    out = io.StringIO()
    previous = handler.setStream(out)

    async def app(scope, receive, send):  # noqa: ANN001
        await receive()                                   # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close"})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with websockets.connect(f"ws://127.0.0.1:{port}/api/v1/ws?cursor=7&token=mrd_secret_key"):
            pass
    finally:
        server.should_exit = True
        await serving
        handler.setStream(previous)
    assert "mrd_secret_key" not in out.getvalue()
    messages = [json.loads(line)["msg"] for line in out.getvalue().splitlines()]
    accepted = '"WebSocket /api/v1/ws?cursor=7&token=[redacted]" [accepted]'
    assert any(m.startswith("127.0.0.1:") and m.endswith(accepted) for m in messages)
