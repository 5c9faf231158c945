"""JSON-RPC transport over web3.py's HTTPProvider, with the retry policy tracing needs.

web3's provider does the encoding and HTTP; the decisions are ours: which
failures are worth retrying (429, 5xx, timeouts, "busy" errors), how to
batch (and what to do when a node refuses batches), and how to describe
the node in messages without leaking the key that many provider URLs
carry (https://host/v3/KEY, https://user:pass@host).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from web3 import HTTPProvider

from ..errors import MalformedResponseError, RateLimitError, SourceError
from .pacing import Pacer, retry_pause
from .urls import validate_url


def redact_url(url: str) -> str:
    """scheme://host[:port]: never the path, query or credentials, which may hold an API key."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


@dataclass
class RpcError(Exception):
    """An error object a node returned for one call."""

    code: int | None
    message: str
    data: Any = None

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})" if self.code is not None else self.message


_BUSY = re.compile(r"rate limit|too many requests|busy|capacity|try again|temporarily|timeout|timed out", re.I)
_BATCH_REFUSED = re.compile(r"batch", re.I)


@dataclass
class RpcStats:
    requests: int = 0  # HTTP requests (a batch counts once)
    calls: int = 0  # JSON-RPC calls (a batch of n counts n)
    by_method: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, methods: list[str]) -> None:
        with self._lock:
            self.requests += 1
            self.calls += len(methods)
            for m in methods:
                self.by_method[m] = self.by_method.get(m, 0) + 1


class _Transient(Exception):
    pass


class _Throttled(Exception):
    def __init__(self, pause: float | None = None):
        super().__init__()
        self.pause = pause  # seconds the node's headers asked for (Retry-After), if any


class JsonRpcClient:
    def __init__(
        self,
        url: str,
        rate: float = 25.0,
        timeout: float = 30.0,
        retries: int = 5,
        rate_limit_retries: int = 10,
        backoff: float = 0.5,
        batch_size: int = 100,
        sleep: Callable[[float], None] = time.sleep,
    ):
        validate_url(url, "--rpc-url")
        self.display = redact_url(url)
        self._provider = HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
        self.pacer = Pacer(rate, measure=False)  # one request may be a batch: halve on a refusal
        self.timeout = timeout
        self.retries = retries
        self.rate_limit_retries = rate_limit_retries
        self.backoff = backoff
        self.batch_size = batch_size
        self.batches_supported = True
        self.stats = RpcStats()
        self._sleep = sleep

    # ---- transport with retries -----------------------------------------------------------
    def _send(self, methods: list[str], send: Callable[[], Any]) -> tuple[Any, float]:
        """The node's answer and when the call started (for the pacer: the caller reports
        pacer.success, or a throttle when the answer is a "busy" error)."""
        transient = throttles = 0
        while True:
            started = self.pacer.wait()
            self.stats.record(methods)
            try:
                return self._once(send), started
            except _Throttled as exc:
                throttles += 1
                if self._throttled(throttles, started, exc.pause):
                    raise RateLimitError(f"node {self.display} kept refusing: rate limited; lower --rpc-rate") from None
            except _Transient as exc:
                transient += 1
                if transient > self.retries:
                    raise SourceError(f"node {self.display} failed {transient} times in a row: {exc}") from None
                with self.stats._lock:
                    self.stats.retries += 1
                self._sleep(min(self.backoff * 2 ** (transient - 1), 30.0))

    def _throttled(self, refusals: int, started: float | None, pause: float | None) -> bool:
        """The node said "too fast" for the n-th time in a row for one call: slow the pacer down
        (see pacing.py) and pause everyone. True when it is time to give up: this call was
        refused too often, or the rate was cut that many times without one answer between."""
        with self.stats._lock:
            self.stats.rate_limited += 1
        self.pacer.slow_down(started)
        streak = self.pacer.streak
        if refusals > self.rate_limit_retries or streak > self.rate_limit_retries:
            return True
        self.pacer.penalise(pause if pause is not None else min(0.5 * max(refusals, streak), 10.0))
        return False

    def _once(self, send: Callable[[], Any]) -> Any:
        try:
            return send()
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 429:
                raise _Throttled(retry_pause(exc.response.headers)) from None
            if status >= 500:
                raise _Transient(f"HTTP {status}") from None
            if status in (401, 403):
                raise SourceError(f"node {self.display} refused access (HTTP {status}); check the RPC URL's key") from None
            raise SourceError(f"node {self.display} answered HTTP {status}") from None
        except requests.Timeout:
            raise _Transient(f"no answer within {self.timeout:g} s") from None
        except requests.ConnectionError:
            raise _Transient("cannot connect") from None
        except (ValueError, json.JSONDecodeError, UnicodeDecodeError):
            raise _Transient("answer is not JSON") from None
        except requests.RequestException as exc:
            raise _Transient(type(exc).__name__) from None

    def _result(self, method: str, response: Any) -> Any:
        if not isinstance(response, dict) or ("result" not in response and "error" not in response):
            raise MalformedResponseError(f"node {self.display} answered {method} without a JSON-RPC result")
        if "error" in response and response["error"] is not None:
            err = response["error"]
            if not isinstance(err, dict):
                return RpcError(None, str(err)[:200])
            return RpcError(err.get("code"), str(err.get("message", ""))[:500], err.get("data"))
        return response["result"]

    def call(self, method: str, params: list) -> Any:
        """One call; a "busy" error is retried, any other error raised as RpcError."""
        busy = 0
        while True:
            response, started = self._send([method], lambda: self._provider.make_request(method, params))
            try:
                result = self._result(method, response)
            except MalformedResponseError:
                self.pacer.success(started)
                raise
            if isinstance(result, RpcError):
                if _BUSY.search(result.message) and not _looks_like_range_limit(result.message):
                    busy += 1
                    if self._throttled(busy, started, None):
                        raise SourceError(f"node {self.display} stayed busy: {result}")
                    continue
                self.pacer.success(started)
                raise result
            self.pacer.success(started)
            return result

    def batch(self, calls: list[tuple[str, list]]) -> list[Any]:
        """Many calls, in batches of batch_size; each result, or an RpcError in its place.

        A node that refuses batches (many providers cap or forbid them) is
        remembered and asked one call at a time from then on.
        """
        out: list[Any] = []
        for i in range(0, len(calls), self.batch_size):
            chunk = calls[i: i + self.batch_size]
            out.extend(self._batch_chunk(chunk))
        return out

    def _batch_chunk(self, chunk: list[tuple[str, list]]) -> list[Any]:
        if not self.batches_supported or len(chunk) == 1:
            return [self._call_keep_error(m, p) for m, p in chunk]
        methods = [m for m, _ in chunk]
        response, started = self._send(methods, lambda: self._provider.make_batch_request(chunk))
        if isinstance(response, dict):  # one error object for the whole batch: batches refused
            err = response.get("error") or {}
            message = str(err.get("message", "")) if isinstance(err, dict) else str(err)
            if _BUSY.search(message) and not _BATCH_REFUSED.search(message):
                with self.stats._lock:
                    self.stats.rate_limited += 1
                self.pacer.slow_down(started)
                if self.pacer.streak > self.rate_limit_retries:
                    raise SourceError(f"node {self.display} stayed busy: {_clip(message)}")
                self.pacer.penalise(1.0)
                return self._batch_chunk(chunk)
            self.pacer.success(started)
            self.batches_supported = False
            return [self._call_keep_error(m, p) for m, p in chunk]
        if not isinstance(response, list) or len(response) != len(chunk):
            self.batches_supported = False
            return [self._call_keep_error(m, p) for m, p in chunk]
        results = [self._result(m, r) for (m, _), r in zip(chunk, response)]
        retry = [i for i, r in enumerate(results) if isinstance(r, RpcError) and _BUSY.search(r.message)]
        if retry:  # some calls of the batch refused as too many: slower (each is retried on its own)
            self.pacer.slow_down(started)
        else:
            self.pacer.success(started)
        for i in retry:
            results[i] = self._call_keep_error(*chunk[i])
        return results

    def _call_keep_error(self, method: str, params: list) -> Any:
        try:
            return self.call(method, params)
        except RpcError as err:
            return err


def _clip(text: str) -> str:
    return " ".join(text.split())[:200]


_RANGE_LIMIT = re.compile(
    r"more than \d+ results|response size exceeded|block range|max block range|maximum block range|"
    r"exceeds max results|limited to a [\d,]+ range|range too large|too many blocks|batch too large|"
    r"query timeout|returned more than",
    re.I,
)


def _looks_like_range_limit(message: str) -> bool:
    return bool(_RANGE_LIMIT.search(message))


def is_range_limit(err: RpcError) -> bool:
    return _looks_like_range_limit(err.message) or err.code == -32005 and "limit" in err.message.lower()


def suggested_range(err: RpcError) -> tuple[int, int] | None:
    """The block range a provider says would work: Infura puts it in data, Alchemy in the message."""
    data = err.data
    if isinstance(data, dict) and "from" in data and "to" in data:
        try:
            return int(str(data["from"]), 0), int(str(data["to"]), 0)
        except ValueError:
            pass
    m = re.search(r"\[\s*(0x[0-9a-fA-F]+)\s*,\s*(0x[0-9a-fA-F]+)\s*\]", err.message)
    if m:
        return int(m.group(1), 16), int(m.group(2), 16)
    return None


def max_span(err: RpcError) -> int | None:
    """A block span the message names as the limit ("limited to 300", "max block range 5000")."""
    m = re.search(r"(?:range|limited to|limit(?:ed)? of|maximum|max)\D{0,20}?([\d,]{2,})", err.message, re.I)
    if m and "result" not in err.message.lower():
        value = int(m.group(1).replace(",", ""))
        return value if value > 0 else None
    return None
