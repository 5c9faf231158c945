"""A JSON-RPC proxy in front of anvil that behaves like the providers analysts meet.

It forwards everything, except what a rule changes: eth_getLogs / trace_filter
refused over wide ranges in Infura's, Alchemy's or a plain node's words, no
trace_filter at all, batches refused, HTML instead of JSON, or "down".
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class RpcProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream
        self.max_log_span: int | None = None
        self.max_trace_span: int | None = None
        self.limit_style = "infura"  # infura | alchemy | plain
        self.no_traces = False
        self.no_batches = False
        self.html = False
        self.down = False
        self.down_after: int | None = None  # go down after this many HTTP requests (a node dying mid-run)
        self.archive_error = False  # answer eth_getLogs / trace_filter like a pruned (non-archive) node
        self.faults: list[str] = []  # for the next HTTP requests: "429", "500", "busy"
        self.log: list[tuple[str, list]] = []
        self.http_requests = 0
        self.refused = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                proxy._handle(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self._session = requests.Session()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def calls(self, method: str) -> list[list]:
        return [p for m, p in self.log if m == method]

    def _reply(self, h, status: int, body: bytes, ctype="application/json") -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _handle(self, h) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length", 0)))
        with self._lock:
            self.http_requests += 1
            if self.down_after is not None and self.http_requests > self.down_after:
                self.down = True
        with self._lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault == "429":
            return self._reply(h, 429, b"Too Many Requests", "text/plain")
        if fault == "500":
            return self._reply(h, 500, b"Internal Server Error", "text/plain")
        if fault == "busy":
            return self._reply(h, 200, json.dumps({"jsonrpc": "2.0", "id": 1, "error": {
                "code": -32005, "message": "daily request count exceeded, request rate limited"}}).encode())
        if self.down:
            return self._reply(h, 503, b"upstream node is down", "text/plain")
        if self.html:
            return self._reply(h, 200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
        body = json.loads(raw)
        if isinstance(body, list):
            if self.no_batches:
                return self._reply(h, 200, json.dumps({"jsonrpc": "2.0", "id": None, "error": {
                    "code": -32600, "message": "batch requests are not supported"}}).encode())
            answers = [self._one(c) for c in body]
            return self._reply(h, 200, json.dumps(answers).encode())
        return self._reply(h, 200, json.dumps(self._one(body)).encode())

    def _one(self, call: dict) -> dict:
        method, params = call.get("method"), call.get("params") or []
        with self._lock:
            self.log.append((method, params))
        refusal = self._refusal(method, params)
        if refusal:
            with self._lock:
                self.refused += 1
            return {"jsonrpc": "2.0", "id": call.get("id"), "error": refusal}
        return self._session.post(self.upstream, json=call, timeout=60).json()

    def _refusal(self, method: str, params: list) -> dict | None:
        if method in ("eth_getLogs", "trace_filter") and self.archive_error:
            return {"code": -32000, "message": "missing trie node 5a7c3b (path ) state is not available"}
        if method == "trace_filter" and self.no_traces:
            return {"code": -32601, "message": "the method trace_filter does not exist/is not available"}
        limit = {"eth_getLogs": self.max_log_span, "trace_filter": self.max_trace_span}.get(method)
        if limit is None or not params:
            return None
        lo, hi = int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)
        if hi - lo + 1 <= limit:
            return None
        if self.limit_style == "infura":
            return {"code": -32005, "message": "query returned more than 10000 results",
                    "data": {"from": hex(lo), "to": hex(lo + limit - 1)}}
        if self.limit_style == "alchemy":
            return {"code": -32602, "message": (
                "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no "
                "limit on the response size, or you can request any block range with a cap of 10K logs in the "
                f"response. Based on your parameters, this block range should work: [{hex(lo)}, {hex(lo + limit - 1)}]")}
        return {"code": -32000, "message": "block range too large"}
