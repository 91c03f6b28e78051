"""gunicorn settings shared by `jiuzhu serve` and the benchmark.

Sync workers: one request per process at a time. Measured on 2 cores (bench/throughput.py), threaded workers
(gthread, 4 threads) completed 45% fewer tasks per second than sync ones: the threads of one process contend for
the GIL while the other process sits idle. WEB_CONCURRENCY sets the number of processes (default 2).

Timeouts. No request is meant to run anywhere near `timeout`: bodies are capped (web.input_guard), diagrams are
refused above 5,000 elements before they are parsed (engine.definitions), scripts run in a bounded sandbox. Should
one still hang, the arbiter aborts the worker after `timeout` seconds; `worker_abort` then answers the hung request
itself — JSON `{"error": {"code": "timeout", …}}` with 503 for API and webhook paths, a short Chinese page
otherwise — instead of gunicorn's own English HTML "Internal Server Error", and the worker is replaced.
"""
from __future__ import annotations

import json
import sys

worker_class = "sync"
graceful_timeout = 10
# Seconds a worker may spend on one request before it is aborted (gunicorn's default is 30). A deploy with bpmnlint
# or a migration of a few thousand instances takes seconds; a minute leaves room without letting a stuck worker
# hold its slot for long.
timeout = 60

TIMEOUT_MESSAGE = "请求处理超时，请稍后重试"
MACHINE_PATHS = ("/api/", "/webhooks/", "/health")


def timeout_response(path: str) -> bytes:
    """The raw HTTP answer to a request whose worker timed out."""
    if path.startswith(MACHINE_PATHS):
        body = json.dumps({"error": {"code": "timeout", "message": TIMEOUT_MESSAGE}}, ensure_ascii=False)
        content_type = "application/json"
    else:
        body = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{TIMEOUT_MESSAGE}</title>'
                f"</head><body><h1>{TIMEOUT_MESSAGE}</h1><p>请求处理时间过长，已被中止。</p></body></html>")
        content_type = "text/html"
    data = body.encode("utf-8")
    head = (f"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n"
            f"Content-Type: {content_type}; charset=utf-8\r\nContent-Length: {len(data)}\r\n\r\n")
    return head.encode("latin-1") + data


def worker_abort(worker) -> None:
    """Runs in the worker, inside the SIGABRT handler, while the hung request's frames are still on the stack: find
    the sync worker's `handle_request` frame, answer its client, and mark the response started so that gunicorn,
    catching the SystemExit that follows, closes the socket instead of writing its HTML 500 after ours."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "handle_request":
        frame = frame.f_back
    if frame is None:
        return
    found = frame.f_locals
    req, client, resp = found.get("req"), found.get("client"), found.get("resp")
    if req is None or client is None or (resp is not None and resp.headers_sent):
        return
    try:
        client.setblocking(True)
        client.settimeout(2)
        client.sendall(timeout_response(getattr(req, "path", "") or ""))
    except OSError:
        return
    if resp is not None:
        resp.headers_sent = True
    worker.log.warning("worker timeout: answered %s %s with 503", getattr(req, "method", "?"),
                       getattr(req, "path", "?"))
