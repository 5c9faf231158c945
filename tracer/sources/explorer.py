"""Block-explorer source speaking the Etherscan API shape, in each service's dialect.

Works with Etherscan V2 (key required), Blockscout's per-instance API
(keyless), the Blockscout PRO API (key required), and anything else that
answers one of those dialects (detected from its first answer; see
dialects.py for what differs between them).

What the explorers' APIs make us do, and why:
- An answer holds at most a page of rows, and the page a service really
  serves may be smaller than asked without saying so (Etherscan's free tier:
  1,000 since 2026-07-01). The page in force is the smaller of what was
  asked and the cap known for the service; a page is the last only when it
  holds fewer rows than that, and a page shorter than asked but exactly at a
  known cap is a capped page, not the end. History is paged by moving the
  *block* cursor: ask from block B sorted ascending; if a page comes back
  full, its last block may be cut short, so drop that block's rows and ask
  again starting at it. Every fetch thus holds whole blocks, which keeps
  transfer positions deterministic. "Result window is too large" lowers the
  page; "Query Timeout" halves the block range; neither is fatal.
- status "0" is overloaded: "No transactions found" is an empty answer,
  "rate limit reached" (with HTTP 200) means slow down, "Invalid API Key"
  or a daily quota means stop. Only the last kind is final at once.
- The API key is a secret: it goes in the query string and nowhere else,
  never in an error message.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from ..errors import MalformedResponseError, QuotaError, RateLimitError, SourceError
from ..models import Transfer
from ..records import RejectedRecord, parse_rows, read_block, rejected_record, row_problem
from .base import FetchTask
from .dialects import (BLOCKSCOUT, BLOCKSCOUT_INSTANCE, BLOCKSCOUT_PRO, BLOCKSCOUT_PRO_API, DIALECTS, ETHERSCAN,
                       ETHERSCAN_V2, Dialect, dialect_for_host, keys_hint)
from .pacing import Pacer, is_urgent, retry_pause, urgent
from .urls import validate_url

ACTIONS = ("txlist", "txlistinternal", "tokentx")
WINDOW = 10_000  # the page x offset ceiling every service keeps


@dataclass(frozen=True)
class Endpoint:
    url: str
    chain_id: int | None
    default_rate: float
    name: str
    dialect: str = "auto"  # etherscan | blockscout | blockscout-pro | auto (known host, else its first answer)


def choose_endpoint(api_key: str | None, override: str | None, chain_id: int = 1, dialect: str | None = None,
                    blockscout_key: str | None = None) -> Endpoint:
    """Etherscan V2 with ETHERSCAN_API_KEY, Blockscout PRO with BLOCKSCOUT_API_KEY, Blockscout's keyless
    per-instance API with neither, or the URL the user named (its dialect: `dialect`, else known from
    its host, else detected from its first answer).

    An override that is set but empty (an unset shell variable) is an error, not
    "use the default": the default is a public third party.
    """
    if override is not None:
        validate_url(override, "--explorer-url")
        parts = urlsplit(override)
        known = DIALECTS.get(dialect or "") or dialect_for_host(override)
        rate = known.default_rate if known else (3.0 if api_key else 5.0)
        return Endpoint(override, chain_id, rate, f"explorer:{parts.hostname}", known.name if known else "auto")
    chosen = DIALECTS.get(dialect or "")
    if api_key and chosen in (None, ETHERSCAN):
        return Endpoint(ETHERSCAN_V2, chain_id, ETHERSCAN.default_rate, "etherscan", "etherscan")
    if blockscout_key and chosen in (None, BLOCKSCOUT_PRO_API):
        return Endpoint(BLOCKSCOUT_PRO, chain_id, BLOCKSCOUT_PRO_API.default_rate, "blockscout-pro", "blockscout-pro")
    if chosen in (ETHERSCAN, BLOCKSCOUT_PRO_API):
        from ..errors import InputError

        raise InputError(f"--explorer-dialect {chosen.name} needs {chosen.key_env}; " + keys_hint())
    return Endpoint(BLOCKSCOUT, None, BLOCKSCOUT_INSTANCE.default_rate, "blockscout", "blockscout")


@dataclass(frozen=True)
class Probe:
    address: str
    transfers: list[Transfer]
    next_start: int | None  # txlist continues from this block; None when the page held it all
    sent: bool  # the address sent a transaction in these blocks: an account with a key, not a contract
    end: int = -1  # the last block the page was asked for (the fetch may run to a later head)


@dataclass
class RequestStats:
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    by_action: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, params: dict[str, Any]) -> None:
        with self._lock:
            self.requests += 1
            action = str(params.get("action"))
            self.by_action[action] = self.by_action.get(action, 0) + 1


class _Transient(Exception):
    """A failure worth retrying (5xx, timeout, garbled body)."""


class _Throttled(Exception):
    """The server said to slow down (pause: how long its headers asked for, if they did)."""

    def __init__(self, pause: float | None = None):
        super().__init__()
        self.pause = pause


class _UnknownModule(Exception):
    """HTTP 400 "Unknown module"/"Unknown action": Blockscout has no proxy module (the dialect tells)."""


class _WindowTooLarge(Exception):
    """ "Result window is too large, PageNo x Offset size must be less than or equal to N": ask for less."""

    def __init__(self, limit: int | None):
        super().__init__()
        self.limit = limit


class _QueryTimeout(Exception):
    """ "Query Timeout occured. Please select a smaller result dataset": ask for fewer blocks."""


class _BatchTooLarge(Exception):
    """HTTP 413 from an eth-rpc endpoint: fewer calls a batch."""


# An empty answer: each service (and each Blockscout action) words it its own way.
_EMPTY_MARKERS = ("no transactions found", "no records found", "no token transfers found",
                  "no internal transactions found", "no logs found", "no data found")


def _is_rate_limit(text: str) -> bool:
    t = text.lower()
    return ("rate limit" in t or "too many requests" in t) and "daily" not in t


def _answer_text(body: dict[str, Any]) -> str:
    """What an answer says: Etherscan puts its text in `result` ("NOTOK" in message), Blockscout in `message`."""
    result = body.get("result")
    return f"{body.get('message') or ''} {result if isinstance(result, str) else ''}".strip()


def _is_rate_limit_body(body: dict[str, Any]) -> bool:
    """A status "0" answer saying "too fast" (not a daily quota or a key problem)."""
    if body.get("status") != "0":
        return False
    text = _answer_text(body)
    return _is_rate_limit(text) and not _is_quota(text)


def _is_quota(text: str) -> bool:
    t = text.lower()
    return ("invalid api key" in t or "missing/invalid api key" in t or "daily" in t or "api key" in t and "limit" in t
            or "out of credits" in t or "too many invalid api key" in t)


def _window_limit(text: str) -> int | None:
    """The N of "Result window is too large, PageNo x Offset size must be less than or equal to N"."""
    t = text.lower()
    if "result window is too large" not in t:
        return None
    found = re.search(r"less than or equal to (\d+)", t)
    return int(found.group(1)) if found else 1000


class ExplorerClient:
    actions = ACTIONS

    def __init__(
        self,
        endpoint: Endpoint,
        api_key: str | None = None,
        rate: float | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        rate_limit_retries: int = 10,
        backoff: float = 0.5,
        throttle_pause: float = 1.0,
        page_size: int | None = None,
        workers: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_requests: int | None = None,
    ):
        if page_size is not None and not 1 <= page_size <= WINDOW:
            raise ValueError(f"page size must be 1..{WINDOW}")
        self.endpoint = endpoint
        self.name = endpoint.name
        self._api_key = api_key
        # The service's dialect: named, known from the host, or (None) read from its first answer.
        self.dialect: Dialect | None = DIALECTS.get(endpoint.dialect) or dialect_for_host(endpoint.url)
        self._dialect_lock = threading.Lock()
        self._asked_page_size = page_size  # None: the dialect's own (Etherscan 1,000, Blockscout 10,000)
        self.max_requests = max_requests  # --max-requests: this run's budget
        self._budget_used = 0
        self.credits_remaining: int | None = None  # Blockscout PRO's x-credits-remaining, as last answered
        self._learned_cap: int | None = None  # a smaller cap the service turned out to serve
        self._batch = 5  # JSON-RPC calls per POST where the dialect POSTs them (shrinks on HTTP 413)
        self._first_head: int | None = None  # the head read while detecting the dialect
        self._detecting = False
        self.incomplete: dict[str, set[str]] = {}  # address -> actions the service has not finished indexing
        self.rate = rate or endpoint.default_rate
        self.pacer = Pacer(self.rate)
        self._give_ups = 0  # rate-limit give-ups so far (see _back_off)
        self.timeout = timeout
        self.retries = retries
        self.rate_limit_retries = rate_limit_retries
        self.backoff = backoff
        self.throttle_pause = throttle_pause
        # Enough calls in flight to keep the pacer busy through round trips up to ~2 s.
        self.workers = workers or max(4, min(32, int(self.rate * 2) + 2))
        self._sleep = sleep
        self.stats = RequestStats()
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=2 * self.workers,
                                                max_retries=0)  # (two pools: the urgent one too)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._host = urlsplit(endpoint.url).hostname or endpoint.url
        self._pool: ThreadPoolExecutor | None = None
        self._urgent_pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._unstarted = 0  # calls handed to a pool whose worker has not picked them up yet
        self._closed = False
        # Records skipped as malformed or out of place (see records.py), in the order met; workers
        # append under the lock, readers take a copy (list(client.rejected)).
        self.rejected: list[RejectedRecord] = []
        self._rejected_lock = threading.Lock()

    @property
    def requests(self) -> int:
        return self.stats.requests

    @property
    def page_size(self) -> int:
        """Rows asked for per page: what the user asked (--page-size), else the dialect's cap, never more
        than a cap the service was seen to enforce."""
        dialect = self.dialect or ETHERSCAN  # undetected: the safe, smaller page
        size = self._asked_page_size or dialect.list_cap
        return min(size, self._learned_cap) if self._learned_cap else size

    def _learn_cap(self, cap: int) -> None:
        with self._dialect_lock:
            if self._learned_cap is None or cap < self._learned_cap:
                self._learned_cap = cap

    @property
    def dialect_name(self) -> str:
        return self.dialect.name if self.dialect else "auto"

    def take_incomplete(self, address: str) -> set[str]:
        """Actions of `address` whose answers said the service has not processed the whole range yet
        (Blockscout's status "2"): their cursors must not move past it (the tracer asks again next run)."""
        with self._dialect_lock:
            return self.incomplete.pop(address, set())

    def resolved_dialect(self) -> Dialect:
        """The dialect in use, detecting it from the first answer where the host did not tell."""
        if self.dialect is None:
            with self._dialect_lock:
                if self.dialect is None:
                    self._detect()
        return self.dialect  # type: ignore[return-value]

    def _detect(self) -> None:
        """An unknown host: Etherscan-like services answer module=proxy; Blockscout has no proxy module and
        says "Unknown module" (HTTP 400). The head block read on the way is kept for head_block()."""
        self.dialect = ETHERSCAN
        self._detecting = True  # asked without the key: an Etherscan key is never sent to what may be Blockscout
        try:
            body = self._call({"module": "proxy", "action": "eth_blockNumber"})
        except _UnknownModule:
            self.dialect = BLOCKSCOUT_INSTANCE
            return
        finally:
            self._detecting = False
        if body.get("status") == "0":
            return  # the envelope, refusing a keyless call: Etherscan-like; head_block() asks with the key
        try:
            self._first_head = int(body.get("result"), 16)
        except (TypeError, ValueError):
            pass  # another error answer: head_block() asks again and says what is wrong

    @property
    def _key(self) -> str | None:
        dialect = self.dialect
        if self._detecting:
            return None
        return self._api_key if dialect is None or dialect.key_env else None

    @property
    def rate_limited(self) -> int:
        return self.stats.rate_limited

    def _run(self, fn, items: list, drain: bool = False) -> Iterator:
        """Run fn over items on the worker pool; yield (item, result) as each completes.

        drain: on the first failure, cancel what has not started, still hand over what the calls under
        way bring back, then raise it: a run stopped by a quota keeps every answer it paid for."""
        if not items:
            return
        def started(item):
            with self._pool_lock:
                self._unstarted -= 1
            return task(item)

        with self._pool_lock:  # the tracer's screen thread and its main thread both start calls
            if self._closed:
                raise SourceError(f"explorer {self._host}: the client is closed")
            if is_urgent():  # not behind the calls queued on the main pool (see pacing.urgent)
                if self._urgent_pool is None:
                    self._urgent_pool = ThreadPoolExecutor(max_workers=self.workers,
                                                           thread_name_prefix="explorer-urgent")
                pool, task = self._urgent_pool, _urgently(fn)
            else:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="explorer")
                pool, task = self._pool, fn
            self._unstarted += len(items)
            # (under the lock: a close() in between would leave a pool that refuses new work)
            futures = {pool.submit(started, item): item for item in items}
        error: BaseException | None = None
        try:
            for fut in as_completed(futures):
                if fut.cancelled():
                    continue
                try:
                    result = fut.result()
                except BaseException as exc:
                    if not drain:
                        raise
                    if error is None:
                        error = exc
                        self._cancel(futures)
                    continue
                yield futures[fut], result
            if error is not None:
                raise error
        finally:
            self._cancel(futures)

    def _cancel(self, futures) -> None:
        # (cancel() says True again for a future cancelled before: it is counted once)
        cancelled = sum(1 for fut in futures if not fut.cancelled() and fut.cancel())
        if cancelled:
            with self._pool_lock:
                self._unstarted -= cancelled

    def all_sent(self) -> bool:
        """Has every call handed over so far been sent? From then on the pacer's slots go unused until new
        work comes: the moment for the tracer to start the next stage's first calls (see Tracer._fetch_histories)."""
        with self._pool_lock:
            return self._unstarted == 0 and self.pacer.waiting <= 2

    def codes(self, addresses: list[str]) -> Iterator[tuple[str, str]]:
        if addresses and self.resolved_dialect().rpc_batch:
            for address, code in self._rpc_many("eth_getCode", [[a, "latest"] for a in addresses], addresses):
                yield address, _hex_code(code, self._host)
            return
        yield from self._run(self.get_code, addresses)

    def receipts(self, tx_hashes: list[str]) -> Iterator[tuple[str, dict | None]]:
        if tx_hashes and self.resolved_dialect().rpc_batch:
            yield from self._rpc_many("eth_getTransactionReceipt", [[h] for h in tx_hashes], tx_hashes, dict)
            return
        yield from self._run(lambda h: self._proxy("eth_getTransactionReceipt", expect=dict, txhash=h), tx_hashes)

    def transactions(self, tx_hashes: list[str]) -> Iterator[tuple[str, dict | None]]:
        if tx_hashes and self.resolved_dialect().rpc_batch:
            yield from self._rpc_many("eth_getTransactionByHash", [[h] for h in tx_hashes], tx_hashes, dict)
            return
        yield from self._run(lambda h: self._proxy("eth_getTransactionByHash", expect=dict, txhash=h), tx_hashes)

    def _rpc_many(self, method: str, params: list[list], keys: list, expect: type = str) -> Iterator[tuple[Any, Any]]:
        """One JSON-RPC method over many params, POSTed in batches (Blockscout: at most 5 a batch)."""
        size = max(1, min(self._batch, self.resolved_dialect().rpc_batch))
        chunks = [list(zip(keys[i: i + size], params[i: i + size])) for i in range(0, len(keys), size)]

        def one(chunk):
            return list(zip([k for k, _ in chunk], self._rpc_post([(method, p) for _, p in chunk], expect)))

        for _, answers in self._run(one, chunks):
            yield from answers

    def _rpc_post(self, calls: list[tuple[str, list]], expect: type = str) -> list:
        """A JSON-RPC batch to the dialect's eth-rpc URL; results in call order (None: unknown to it)."""
        payload = [{"jsonrpc": "2.0", "id": i + 1, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        try:
            answer = self._call({"module": "eth-rpc", "action": calls[0][0]}, post=payload)
        except _BatchTooLarge:
            if len(calls) == 1:
                raise SourceError(f"explorer {self._host} refuses even one JSON-RPC call a request (HTTP 413)") \
                    from None
            with self._dialect_lock:
                self._batch = max(1, len(calls) // 2)
            half = len(calls) // 2
            return self._rpc_post(calls[:half], expect) + self._rpc_post(calls[half:], expect)
        if isinstance(answer, dict):
            if "status" in answer:  # the API's envelope, not JSON-RPC: an error
                raise SourceError(f"explorer {self._host} {calls[0][0]} failed: {_clean(str(answer.get('message')))}")
            answer = [answer]
        by_id = {a.get("id"): a for a in answer if isinstance(a, dict)}
        out = []
        for i, (method, _) in enumerate(calls):
            a = by_id.get(i + 1)
            if a is None:
                raise MalformedResponseError(f"explorer {self._host} {method}: an answer is missing from the batch")
            err = a.get("error")
            if err is not None:  # Blockscout's own methods: a plain string; proxied ones: the node's error object
                msg = err.get("message") if isinstance(err, dict) else err
                raise SourceError(f"explorer {self._host} {method} failed: {_clean(str(msg))}")
            result = a.get("result")
            if result is not None and not isinstance(result, expect):
                raise MalformedResponseError(f"explorer {self._host} {method}: expected a {expect.__name__} result")
            out.append(result)
        return out

    def logs(self, address: str, topic0: str, start: int, end: int) -> list[dict]:
        """Event logs of one contract, paged by block cursor like the account lists (1,000 a page)."""
        out: list[dict] = []
        cursor, page_size = start, 1000
        while cursor <= end:
            body = self._call_checked({"module": "logs", "action": "getLogs", "address": address, "topic0": topic0,
                                       "fromBlock": cursor, "toBlock": end, "page": 1, "offset": page_size})
            page = body.get("result")
            if not isinstance(page, list) or not all(isinstance(x, dict) for x in page):
                raise MalformedResponseError(f"explorer {self._host} getLogs: expected a list of logs")
            if len(page) < page_size:
                out.extend(page)
                break
            last = int(str(page[-1].get("blockNumber", "0")), 0)
            if last == cursor:
                raise SourceError(f"{page_size} or more logs of {address} in block {last}: more than the explorer "
                                  "lists at once; use a node (--rpc-url)")
            out.extend(x for x in page if int(str(x.get("blockNumber", "0")), 0) < last)
            cursor = last
        return out

    def balances(self, addresses: list[str]) -> dict[str, int]:
        """ETH balances at the latest block, 20 addresses a call (balancemulti)."""
        chunks = [addresses[i: i + 20] for i in range(0, len(addresses), 20)]
        if chunks:
            self.resolved_dialect()  # before the workers start (the key goes only where it belongs)

        def one(chunk: list[str]) -> dict[str, int]:
            body = self._call_checked({"module": "account", "action": "balancemulti", "address": ",".join(chunk),
                                       "tag": "latest"})
            result = body.get("result")
            if not isinstance(result, list):
                raise MalformedResponseError(f"explorer {self._host} balancemulti: expected a list")
            out = {}
            for row in result:  # keyed by account: Blockscout lists addresses it does not know first
                try:
                    if row["balance"] is None:
                        continue  # Blockscout: balance not fetched yet; unknown, so the address is fetched
                    out[str(row["account"]).lower()] = int(str(row["balance"]))
                except (KeyError, TypeError, ValueError):
                    raise MalformedResponseError(f"explorer {self._host} balancemulti: malformed row") from None
            return out

        found: dict[str, int] = {}
        for _, part in self._run(one, chunks):
            found.update(part)
        return found

    def token_balances(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Token balances at the latest block, one (address, token) a call (tokenbalance)."""
        def one(pair: tuple[str, str]) -> int:
            address, token = pair
            body = self._call_checked({"module": "account", "action": "tokenbalance", "contractaddress": token,
                                       "address": address, "tag": "latest"})
            try:
                return int(str(body.get("result")))
            except ValueError:
                raise MalformedResponseError(f"explorer {self._host} tokenbalance: not a number") from None

        if pairs:
            self.resolved_dialect()
        return {pair: value for pair, value in self._run(one, pairs)}

    def probes(self, requests: list[tuple[str, int, int]]) -> Iterator[Probe]:
        if requests:
            self.resolved_dialect()
        for _, probe in self._run(lambda r: self.probe(*r), requests, drain=True):
            yield probe

    def fetch(self, tasks: list[FetchTask]) -> Iterator[tuple[FetchTask, list[Transfer]]]:
        if tasks:
            self.resolved_dialect()  # once, before the workers start
        yield from self._run(lambda t: self.fetch_range(t.action, t.address, t.start, t.end), tasks, drain=True)

    def close(self) -> None:
        with self._pool_lock:  # from now on, work still handed over (a screen read early, never used) ends at once
            self._closed = True
            pools, self._pool, self._urgent_pool = (self._pool, self._urgent_pool), None, None
        # Not cancel_futures: a future the executor cancels in its queue never notifies a caller waiting in
        # as_completed (it hung a finished trace's exit for ever, on a thread still reading early pages). The
        # calls still queued end at once instead: _call refuses work once the client is closed.
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=True)
        self._session.close()

    # ---- one HTTP call, with the retry policy -------------------------------------------
    def _call(self, params: dict[str, Any], post: Any = None) -> Any:
        """One GET with `params` (or, with `post`, one JSON-RPC POST of that body to the dialect's
        eth-rpc URL), retried and paced; the parsed JSON answer."""
        dialect = self.dialect or ETHERSCAN
        query = dialect.query(params, self.endpoint.chain_id, self._key)
        transient_failures = 0
        throttles = 0
        last_problem = ""
        give_ups = self._give_ups
        if self._closed:
            raise SourceError(f"explorer {self._host}: the client is closed")
        if not self._detecting:
            self._first_head = None  # the head read while detecting stands for head_block() only if asked next
        while True:
            self._take_budget()
            started = self.pacer.wait(stop=lambda: self._give_ups != give_ups or self._closed)
            if self._give_ups != give_ups:  # another call gave up on this server meanwhile: so does this one
                raise RateLimitError(self._rate_limit_message(self.pacer.streak))
            if self._closed:  # (a retry of a call under way when the client closed: it ends here)
                raise SourceError(f"explorer {self._host}: the client is closed")
            self.stats.record(params)
            try:
                body = self._once(query, post)
            except _Throttled as exc:
                throttles += 1
                self._back_off(throttles, started, exc.pause)
                continue
            except _Transient as exc:
                transient_failures += 1
                last_problem = str(exc)
                if transient_failures > self.retries:
                    raise SourceError(
                        f"explorer {self._host} failed {transient_failures} times in a row: {last_problem}"
                        + self._retired_hint()
                    ) from None
                with self.stats._lock:
                    self.stats.retries += 1
                self._sleep(min(self.backoff * 2 ** (transient_failures - 1), 30.0))
                continue
            if isinstance(body, dict) and _is_rate_limit_body(body):
                # Etherscan's way: HTTP 200, status "0", "Max calls per sec rate limit reached (3/sec)"
                throttles += 1
                self._back_off(throttles, started, None)
                continue
            self.pacer.success(started)
            return body

    def _take_budget(self) -> None:
        """One request of --max-requests, taken before it is sent (workers race for the last ones)."""
        if self.max_requests is None:
            return
        with self.stats._lock:
            if self._budget_used >= self.max_requests:
                raise QuotaError(f"--max-requests {self.max_requests} reached; everything fetched is kept: "
                                 "rerun to go on from there")
            self._budget_used += 1

    def _back_off(self, throttles: int, started: float | None = None, pause: float | None = None) -> None:
        """The server said "slow down" for the n-th time in a row: slow down, pause everyone, or give up.

        The pacer lowers the rate (see pacing.py), so a --rate above the server's
        settles at the server's. Giving up still happens when one call was refused
        more than rate_limit_retries times, or the pacer cut the rate that many
        times without a single call getting through: a server that never recovers.
        """
        with self.stats._lock:
            self.stats.rate_limited += 1
        self.pacer.slow_down(started)
        streak = self.pacer.streak
        if throttles > self.rate_limit_retries or streak > self.rate_limit_retries:
            with self.stats._lock:
                self._give_ups += 1  # calls waiting for a turn give up too, instead of waiting it out
            raise RateLimitError(self._rate_limit_message(max(throttles, streak)))
        if pause is None:  # the server did not say how long: the longer it goes on, the longer the pause
            pause = min(self.throttle_pause * max(throttles, streak), 10.0)
        self.pacer.penalise(pause)

    def _rate_limit_message(self, tries: int) -> str:
        return (f"explorer {self._host} kept answering 'rate limit reached' after {tries} tries, "
                f"slowing down to {self.pacer.rate:.2g} calls/s; lower --rate or try later")

    def _retired_hint(self, text: str | None = None) -> str:
        """The keyless per-instance Blockscout API is being retired (from 2026-07-01): say what to do, where
        the refusal may be that (or, given the answer's `text`, where it says so)."""
        if text is not None and "deprecat" not in text.lower() and "retired" not in text.lower():
            return ""
        if self.dialect is BLOCKSCOUT_INSTANCE:
            return "; the keyless Blockscout API may be retired for this instance: " + keys_hint()
        return ""

    def _once(self, query: dict[str, Any], post: Any = None) -> Any:
        try:
            if post is None:
                resp = self._session.get(self.endpoint.url, params=query, timeout=self.timeout)
            else:
                url = (self.dialect or ETHERSCAN).rpc_url(self.endpoint.url, self.endpoint.chain_id)
                params = {"apikey": self._key} if self._key else None
                resp = self._session.post(url, params=params, json=post, timeout=self.timeout)
        except requests.Timeout:
            raise _Transient(f"no answer within {self.timeout:g} s") from None
        except requests.ConnectionError:
            raise _Transient("cannot connect") from None
        except requests.RequestException as exc:
            raise _Transient(type(exc).__name__) from None
        code = resp.status_code
        credits = resp.headers.get("x-credits-remaining")
        if credits is not None and credits.strip().lstrip("-").isdigit():
            self.credits_remaining = int(credits)
        if code == 429:
            # Blockscout: x-ratelimit-reset in ms until its window resets; others: Retry-After
            raise _Throttled(retry_pause(resp.headers))
        if code == 413:
            raise _BatchTooLarge()
        if code >= 500:
            raise _Transient(f"HTTP {code}")
        text = resp.content.decode("utf-8", "replace")  # invalid UTF-8 in a token's name must not spoil the rest
        if code == 402:  # Blockscout PRO: {"error":"Out of credits"}
            raise QuotaError(f"explorer {self._host} says today's credits are spent (HTTP 402: {_clean(text)}); "
                             "everything fetched is kept, rerun after the daily reset (00:00 UTC)")
        if code in (401, 403):
            env = (self.dialect.key_env if self.dialect and self.dialect.key_env else None)
            if self._detecting or self.endpoint.dialect == "auto" and env:
                raise QuotaError(f"explorer {self._host} refused access (HTTP {code}: {_clean(text)}); if it needs "
                                 "a key, set ETHERSCAN_API_KEY or BLOCKSCOUT_API_KEY and name its --explorer-dialect")
            if env:
                raise QuotaError(f"explorer {self._host} refused the key (HTTP {code}: {_clean(text)}); "
                                 f"check {env}")
            raise QuotaError(f"explorer {self._host} refused access (HTTP {code})" + self._retired_hint()
                             if self.dialect is BLOCKSCOUT_INSTANCE else
                             f"explorer {self._host} refused access (HTTP {code}); check ETHERSCAN_API_KEY")
        if code == 400 and ("unknown module" in text.lower() or "unknown action" in text.lower()):
            raise _UnknownModule()
        if code in (404, 410):
            raise SourceError(f"explorer {self._host} answered HTTP {code} (no such API here, or retired)"
                              + (self._retired_hint() or "; check --explorer-url"))
        if code not in (200, 400):
            raise SourceError(f"explorer {self._host} answered HTTP {code}")
        try:
            body = json.loads(text)
        except (ValueError, json.JSONDecodeError):
            snippet = text[:60].strip().replace("\n", " ")
            raise _Transient(f"answer is not JSON ({snippet!r})") from None
        if post is not None and isinstance(body, list):
            return body  # a JSON-RPC batch answer
        if not isinstance(body, dict):
            raise MalformedResponseError(f"explorer {self._host} answered a JSON {type(body).__name__}, not an object")
        if code == 400:
            raise SourceError(f"explorer {self._host} refused the request (HTTP 400: {_clean(str(body.get('message')))})")
        if "error" in body and "status" not in body and "jsonrpc" not in body:
            # a gateway's own answer (Blockscout PRO: {"error": "..."}), not the API's envelope
            raise SourceError(f"explorer {self._host} refused: {_clean(str(body['error']))}")
        return body

    # ---- API actions ---------------------------------------------------------------------
    def _account(self, action: str, address: str, start: int, end: int, page: int, offset: int) -> list[Any]:
        params = {
            "module": "account", "action": action, "address": address,
            "startblock": start, "endblock": end, "page": page, "offset": offset, "sort": "asc",
        }
        body = self._call_checked(params, splittable=True)
        result = body.get("result")
        if not isinstance(result, list):
            raise MalformedResponseError(
                f"explorer {self._host} {action}: expected a list of records, got {type(result).__name__}"
            )
        if body.get("status") == "2":  # Blockscout: some of these blocks' internal transactions are not indexed yet
            with self._dialect_lock:
                self.incomplete.setdefault(address.lower(), set()).add(action)
        return result

    def _call_checked(self, params: dict[str, Any], splittable: bool = False) -> dict[str, Any]:
        """_call plus the status "0" rules; rate-limit bodies are retried inside. splittable: the caller
        pages by block and can ask for less ("Result window is too large", "Query Timeout" raised to it)."""
        attempts = 0
        while True:
            body = self._call(params)
            status = body.get("status")
            result = body.get("result")
            text = _answer_text(body)
            if status == "1":
                return body
            if status == "2" and isinstance(result, list):
                return body  # partial: what is indexed so far (see _account)
            if status == "0":
                if any(m in text.lower() for m in _EMPTY_MARKERS) and result in ([], None, ""):
                    return {"status": "1", "result": []}
                limit = _window_limit(text)
                if limit is not None and splittable:
                    raise _WindowTooLarge(limit)
                if "query timeout" in text.lower() and splittable:
                    raise _QueryTimeout()
                attempts += 1
                if self._retry_refusal(text, attempts):
                    continue
                raise SourceError(f"explorer {self._host} answered an error: {_clean(text)}{self._retired_hint(text)}")
            raise MalformedResponseError(f"explorer {self._host} answered without a valid status field")

    def _retry_refusal(self, text: str, attempts: int) -> bool:
        """A status "0" answer: raise if final, wait and return True if worth asking again."""
        if _is_quota(text):
            when = ("; everything fetched is kept: rerun after the daily reset (00:00 UTC) to go on"
                    if "daily" in text.lower() or "credits" in text.lower() else "")
            raise QuotaError(f"explorer {self._host} refused: {_clean(text)}{when}")
        if _is_rate_limit(text):  # normally caught in _call already
            self._back_off(attempts)
            return True
        if "timeout" in text.lower() or "temporarily" in text.lower():
            if attempts > self.retries:
                raise SourceError(f"explorer {self._host} failed: {_clean(text)}")
            self._sleep(min(self.backoff * 2 ** (attempts - 1), 30.0))
            return True
        return False

    def _proxy(self, action: str, expect: type = str, **params: Any):
        attempts = 0
        while True:
            try:
                body = self._call({"module": "proxy", "action": action, **params})
            except _UnknownModule:
                raise SourceError(f"explorer {self._host} has no proxy module (Blockscout's dialect?); "
                                  "try --explorer-dialect blockscout") from None
            if "error" in body:
                err = body["error"]
                msg = err.get("message") if isinstance(err, dict) else err
                raise SourceError(f"explorer {self._host} {action} failed: {_clean(str(msg))}")
            result = body.get("result")
            if expect is dict and result is None:
                return None  # an unknown transaction
            if body.get("status") == "0" or (isinstance(result, str) and not result.startswith("0x")):
                text = f"{body.get('message', '')} {result}"
                attempts += 1
                if self._retry_refusal(text, attempts):
                    continue
                raise SourceError(f"explorer {self._host} {action} failed: {_clean(text)}")
            if not isinstance(result, expect):
                raise MalformedResponseError(f"explorer {self._host} {action}: expected a {expect.__name__} result")
            return result

    def block_at(self, timestamp: int) -> int:
        """The first block at or after a unix time (where a bridged deposit can first show up)."""
        body = self._call_checked({"module": "block", "action": "getblocknobytime", "timestamp": int(timestamp),
                                   "closest": "after"})
        result = body.get("result")
        if isinstance(result, dict):
            result = result.get("blockNumber")
        try:
            return int(str(result))
        except ValueError:
            raise MalformedResponseError(f"explorer {self._host} getblocknobytime: not a block number") from None

    def head_block(self) -> int:
        dialect = self.resolved_dialect()
        if self._first_head is not None:  # read while detecting the dialect
            head, self._first_head = self._first_head, None
            return head
        if dialect.head_by_block_module:  # Blockscout: no proxy module; its max indexed block
            body = self._call({"module": "block", "action": "eth_block_number"})
            result = body.get("result")
            if body.get("status") == "0" or not isinstance(result, str):
                text = _answer_text(body)
                raise SourceError(f"explorer {self._host} eth_block_number failed: {_clean(text)}"
                                  f"{self._retired_hint(text)}")
        else:
            result = self._proxy("eth_blockNumber")
        try:
            return int(result, 16)
        except ValueError:
            raise MalformedResponseError(f"explorer {self._host} eth_blockNumber: not a hex number") from None

    def get_code(self, address: str) -> str:
        if self.resolved_dialect().rpc_batch:
            return _hex_code(self._rpc_post([("eth_getCode", [address, "latest"])])[0], self._host)
        return _hex_code(self._proxy("eth_getCode", address=address, tag="latest"), self._host)

    def fetch_range(self, action: str, address: str, start: int, end: int) -> list[Transfer]:
        """All `action` records of `address` in blocks [start, end], as Transfers.

        Paged by block cursor; see the module docstring for why. A record
        that is malformed, outside [start, end] or not about `address` is
        skipped and added to self.rejected; the others are kept.
        """
        pages = self._rows(action, address, start, end, max_pages=None)
        rejected = list(pages.rejected)
        transfers = parse_rows(action, pages.rows, address, start, end, rejected=rejected)
        self._record_rejects(rejected)
        return transfers

    def _record_rejects(self, records: list[RejectedRecord]) -> None:
        if records:
            with self._rejected_lock:
                self.rejected.extend(records)

    def _rows(self, action: str, address: str, start: int, end: int, max_pages: int | None) -> _Pages:
        """Raw records of whole blocks, and the block to continue from if max_pages cut it short.

        Only well-formed rows (records.row_problem finds nothing: a readable
        block inside [start, end], the address on one side, every field
        sound) inside the blocks this request asked for ([cursor, end])
        steer the cursor: a hostile row claiming some block, out of order,
        must not make the cursor jump over real rows. Every other row is
        handed on once, however many pages repeat it, for parse_rows to
        reject; a well-formed row of an earlier block served again is
        rejected here unless it is the very row already read. The cursor
        strictly advances on every full page, so paging ends; a full page
        without one usable row is a malformed answer.
        """
        rows: list[Any] = []
        odd = _OddRows()
        cursor = start
        hi = end  # the last block of the current request: halved on a query timeout
        span: int | None = None  # blocks a request may span once the explorer timed out on more (kept, not retried)
        timeouts = 0  # in a row, on a single block: retried like any transient failure, then given up
        pages = 0
        while cursor <= end:
            if max_pages is not None and pages >= max_pages:
                return odd.finish(rows, action, address, cursor)
            asked = self.page_size
            try:
                page = self._account(action, address, cursor, hi, 1, asked)
            except _WindowTooLarge as exc:
                if exc.limit and exc.limit < asked:
                    self._learn_cap(exc.limit)  # the service's window is smaller than our page: ask for less
                    continue
                raise SourceError(f"explorer {self._host} {action}: refuses a page of {asked} rows of {address}") \
                    from None
            except _QueryTimeout:
                if hi > cursor:
                    span = max(1, (hi - cursor + 1) // 2)  # too many blocks at once: half as many, from now on
                    hi = cursor + span - 1
                    continue
                timeouts += 1
                if timeouts <= self.retries:  # one block: the explorer may just be busy
                    self._sleep(min(self.backoff * 2 ** (timeouts - 1), 30.0))
                    continue
                raise SourceError(f"explorer {self._host} times out on {action} of {address} in block {cursor} "
                                  f"alone ({timeouts} tries); use a node (--rpc-url)") from None
            timeouts = 0
            pages += 1
            full = self._page_is_full(len(page), asked)
            blocks = _sound_blocks(action, page, address, start, end)
            usable = [b is not None and cursor <= b <= hi for b in blocks]
            odd.add_page([(r, b) for r, b, ok in zip(page, blocks, usable) if not ok], cursor, hi)
            if not full:
                rows.extend(r for r, ok in zip(page, usable) if ok)
                cursor = hi + 1  # these blocks are read whole; on to the rest, as many blocks as were answered
                hi = end if span is None else min(end, cursor + span - 1)
                continue
            in_range = [b for b, ok in zip(blocks, usable) if ok]
            if not in_range:
                # A full page and not one row to move the cursor by: this address's history cannot be read
                # past here. Keep what was read, name the address, and leave its cursor for the next run;
                # one address's garbage must not stop the case.
                with self._dialect_lock:
                    self.incomplete.setdefault(address.lower(), set()).add(action)
                pages_out = odd.finish(rows, action, address, None)
                pages_out.rejected.append(RejectedRecord(
                    address.lower(), action, "", cursor,
                    f"a full page without one usable record from block {cursor}; the rest was not read"))
                return pages_out
            first, last = min(in_range), max(in_range)
            if first == last:
                # One block holds a whole page or more: walk it by page number inside the window.
                rows.extend(self._whole_block(action, address, last, odd, start, end))
                cursor = last + 1
                continue
            rows.extend(r for r, b, ok in zip(page, blocks, usable) if ok and b < last)
            cursor = last
        return odd.finish(rows, action, address, None)

    def _page_is_full(self, rows: int, asked: int) -> bool:
        """Never trust a short page: one of exactly a known cap (1,000; 10,000), shorter than asked, is a
        capped page (Etherscan's free tier serves 1,000 whatever is asked), and the cap is learned."""
        if rows >= asked:
            return True
        if rows in (self.dialect or ETHERSCAN).silent_caps:
            self._learn_cap(rows)
            return True
        return False

    def probe(self, address: str, start: int, end: int) -> Probe:
        """The first page of an address's transactions: do they show it sending one?

        An account that sent a transaction is not a contract (contracts never
        sign one), so a wallet with outgoing transactions needs no eth_getCode,
        and the page is the start of its txlist anyway: tracing a wallet costs
        its three lists and nothing more. Only one page is read, so an unknown
        contract with a huge history costs one request before eth_getCode
        stops the trace there. Only well-formed rows count as proof of sending
        (a failed transaction does: it was signed).
        """
        pages = self._rows("txlist", address, start, end, max_pages=1)
        me = address.lower()
        sent = any(isinstance(r, dict) and str(r.get("from", "")).strip().lower() == me
                   and row_problem("txlist", r, address, start, end) is None for r in pages.rows)
        rejected = list(pages.rejected)
        transfers = parse_rows("txlist", pages.rows, address, start, end, rejected=rejected)
        self._record_rejects(rejected)
        return Probe(address, transfers, pages.next_start, sent, end)

    def _whole_block(self, action: str, address: str, block: int, odd: _OddRows, start: int, end: int) -> list[Any]:
        """Every row of one block whose rows fill pages, read by page number from its first page."""
        size = self.page_size
        rows: list[Any] = []
        page_no = 0
        timeouts = 0
        while True:
            page_no += 1
            if page_no * size > WINDOW:
                raise SourceError(
                    f"{address} has more than {WINDOW} {action} records in block {block}; "
                    "the explorer cannot list them (use a node: --rpc-url)"
                )
            try:
                page = self._account(action, address, block, block, page_no, size)
            except _WindowTooLarge:
                raise SourceError(
                    f"{address} has more {action} records in block {block} than the explorer {self._host} lists "
                    f"({(page_no - 1) * size} read); use a node: --rpc-url"
                ) from None
            except _QueryTimeout:
                timeouts += 1
                if timeouts <= self.retries:  # the explorer may just be busy: the same page again
                    self._sleep(min(self.backoff * 2 ** (timeouts - 1), 30.0))
                    page_no -= 1
                    continue
                raise SourceError(f"explorer {self._host} times out reading {action} of {address} in block {block} "
                                  f"(page {page_no}, {timeouts} tries); use a node: --rpc-url") from None
            timeouts = 0
            blocks = _sound_blocks(action, page, address, start, end)
            rows.extend(r for r, b in zip(page, blocks) if b == block)
            odd.add_page([(r, b) for r, b in zip(page, blocks) if b != block], block, block)
            full = self._page_is_full(len(page), size)
            if full and self.page_size < size:  # the service turned out to cap pages: read the block again
                return self._whole_block(action, address, block, odd, start, end)
            if not full:
                return rows


@dataclass
class _Pages:
    rows: list[Any]  # rows to parse: usable rows of whole blocks, then the odd ones (each once)
    rejected: list[RejectedRecord]  # rows rejected while paging (an earlier block served again)
    next_start: int | None  # the block to continue from when max_pages cut the paging short


class _OddRows:
    """Rows that cannot steer the block cursor, kept once however many pages repeat them.

    A row counts as many times as it occurs on the one page that holds it
    most often: a hostile row repeated on every page is one rejection, two
    identical ones on a page are two.
    """

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Any, int, bool]] = {}  # repr -> (row, count, served again)

    def add_page(self, items: list[tuple[Any, int | None]], lo: int, hi: int) -> None:
        """The rows of one answer (to a request for blocks [lo, hi]) that may not steer the cursor.

        Each comes with its block when it is well-formed (then it lies outside
        [lo, hi]), else None: parse_rows will say what is wrong with it.
        """
        counts: dict[str, int] = {}
        first: dict[str, tuple[Any, bool]] = {}
        for row, block in items:
            if block is not None and block > hi:
                continue  # a later block of this fetch, answered too early: the cursor reads it in its turn
            key = repr(row)
            counts[key] = counts.get(key, 0) + 1
            # a well-formed row of an earlier block of this fetch: that block was already read whole
            first.setdefault(key, (row, block is not None and block < lo))
        for key, n in counts.items():
            if key not in self._rows or self._rows[key][1] < n:
                row, again = first[key]
                self._rows[key] = (row, n, again)

    def finish(self, rows: list[Any], action: str, address: str, next_start: int | None) -> _Pages:
        rejected = []
        out = list(rows)
        taken: set[str] | None = None
        for row, n, again in self._rows.values():
            if not again:
                out.extend([row] * n)
                continue
            if taken is None:  # only when an explorer served old blocks again: rare, so paid only then
                taken = {repr(r) for r in rows}
            if repr(row) in taken:
                continue  # the very row already read with its block: a repeat, not a record
            reason = f"block {_block_of(row)} served again after it was read whole"
            rejected.extend(rejected_record(action, row, address, reason) for _ in range(n))
        return _Pages(out, rejected, next_start)


def _urgently(fn):
    """fn, run on a worker as urgent as the caller that handed it over."""
    def run(item):
        with urgent():
            return fn(item)
    return run


def _block_of(row: Any) -> int | None:
    """A row's block when it has a readable one, else None."""
    return read_block(row)


def _sound_blocks(action: str, page: list[Any], address: str, start: int, end: int) -> list[int | None]:
    """Per row: its block if the row is well-formed (may steer the cursor), else None (parse_rows rejects it).

    A failed or zero-value transaction is well-formed: it occupies its place in the explorer's order.
    """
    return [_block_of(r) if row_problem(action, r, address, start, end) is None else None for r in page]


def _hex_code(code: Any, host: str) -> str:
    if not isinstance(code, str) or not code.startswith("0x") or len(code) % 2 \
            or any(c not in "0123456789abcdefABCDEF" for c in code[2:]):
        raise MalformedResponseError(f"explorer {host} eth_getCode: not hex bytes")
    return code.lower()


def _clean(text: str) -> str:
    """One line, bounded, printable: explorer messages end up on the analyst's terminal."""
    flat = " ".join(text.split())
    flat = "".join(ch for ch in flat if ch.isprintable())
    return flat[:160]
