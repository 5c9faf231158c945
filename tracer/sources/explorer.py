"""Block-explorer source speaking the Etherscan API (V2) shape.

Works with Etherscan V2 (key required), Blockscout's keyless compatible
API, and anything else answering the same shape (the tests' local server).

What the explorer's API makes us do, and why:
- Results are capped at a 10,000-record window (page x offset <= 10000), so
  history is paged by moving the *block* cursor: ask from block B sorted
  ascending; if a page comes back full, its last block may be cut short,
  so drop that block's rows and ask again starting at it. Every fetch thus
  holds whole blocks, which keeps transfer positions deterministic.
- status "0" is overloaded: "No transactions found" is an empty answer,
  "rate limit reached" (with HTTP 200) means slow down, "Invalid API Key"
  or a daily quota means stop. Only the last kind is final at once.
- The API key is a secret: it goes in the query string and nowhere else,
  never in an error message.
"""

from __future__ import annotations

import json
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
from .pacing import Pacer, retry_pause
from .urls import validate_url

ETHERSCAN_V2 = "https://api.etherscan.io/v2/api"
BLOCKSCOUT = "https://eth.blockscout.com/api"
ACTIONS = ("txlist", "txlistinternal", "tokentx")
WINDOW = 10_000  # Etherscan's page x offset ceiling


@dataclass(frozen=True)
class Endpoint:
    url: str
    chain_id: int | None
    default_rate: float
    name: str


def choose_endpoint(api_key: str | None, override: str | None, chain_id: int = 1) -> Endpoint:
    """Etherscan V2 with a key, Blockscout without, or the URL the user named.

    An override that is set but empty (an unset shell variable) is an error, not
    "use the default": the default is a public third party.
    """
    if override is not None:
        validate_url(override, "--explorer-url")
        parts = urlsplit(override)
        return Endpoint(override, chain_id, 3.0 if api_key else 5.0, f"explorer:{parts.hostname}")
    if api_key:
        return Endpoint(ETHERSCAN_V2, chain_id, 3.0, "etherscan")
    return Endpoint(BLOCKSCOUT, None, 5.0, "blockscout")


@dataclass(frozen=True)
class Probe:
    address: str
    transfers: list[Transfer]
    next_start: int | None  # txlist continues from this block; None when the page held it all
    sent: bool  # the address sent a transaction in these blocks: an account with a key, not a contract


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


_EMPTY_MARKERS = ("no transactions found", "no records found", "no token transfers found",
                  "no internal transactions found", "no data found")


def _is_rate_limit(text: str) -> bool:
    t = text.lower()
    return ("rate limit" in t or "too many requests" in t) and "daily" not in t


def _is_rate_limit_body(body: dict[str, Any]) -> bool:
    """A status "0" answer saying "too fast" (not a daily quota or a key problem)."""
    if body.get("status") != "0":
        return False
    result = body.get("result")
    text = f"{body.get('message', '')} {result if isinstance(result, str) else ''}"
    return _is_rate_limit(text) and not _is_quota(text)


def _is_quota(text: str) -> bool:
    t = text.lower()
    return "invalid api key" in t or "missing/invalid api key" in t or "daily" in t or "api key" in t and "limit" in t


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
        page_size: int = WINDOW,
        workers: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not 1 <= page_size <= WINDOW:
            raise ValueError(f"page size must be 1..{WINDOW}")
        self.endpoint = endpoint
        self.name = endpoint.name
        self._api_key = api_key
        self.rate = rate or endpoint.default_rate
        self.pacer = Pacer(self.rate)
        self._give_ups = 0  # rate-limit give-ups so far (see _back_off)
        self.timeout = timeout
        self.retries = retries
        self.rate_limit_retries = rate_limit_retries
        self.backoff = backoff
        self.throttle_pause = throttle_pause
        self.page_size = page_size
        # Enough calls in flight to keep the pacer busy through round trips up to ~2 s.
        self.workers = workers or max(4, min(32, int(self.rate * 2) + 2))
        self._sleep = sleep
        self.stats = RequestStats()
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=self.workers, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._host = urlsplit(endpoint.url).hostname or endpoint.url
        self._pool: ThreadPoolExecutor | None = None
        # Records skipped as malformed or out of place (see records.py), in the order met; workers
        # append under the lock, readers take a copy (list(client.rejected)).
        self.rejected: list[RejectedRecord] = []
        self._rejected_lock = threading.Lock()

    @property
    def requests(self) -> int:
        return self.stats.requests

    @property
    def rate_limited(self) -> int:
        return self.stats.rate_limited

    def _run(self, fn, items: list) -> Iterator:
        """Run fn over items on the worker pool; yield (item, result) as each completes."""
        if not items:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="explorer")
        futures = {self._pool.submit(fn, item): item for item in items}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def codes(self, addresses: list[str]) -> Iterator[tuple[str, str]]:
        yield from self._run(self.get_code, addresses)

    def receipts(self, tx_hashes: list[str]) -> Iterator[tuple[str, dict | None]]:
        yield from self._run(lambda h: self._proxy("eth_getTransactionReceipt", expect=dict, txhash=h), tx_hashes)

    def transactions(self, tx_hashes: list[str]) -> Iterator[tuple[str, dict | None]]:
        yield from self._run(lambda h: self._proxy("eth_getTransactionByHash", expect=dict, txhash=h), tx_hashes)

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
                raise SourceError(f"more than {page_size} logs of {address} in block {last}; use a node")
            out.extend(x for x in page if int(str(x.get("blockNumber", "0")), 0) < last)
            cursor = last
        return out

    def balances(self, addresses: list[str]) -> dict[str, int]:
        """ETH balances at the latest block, 20 addresses a call (balancemulti)."""
        chunks = [addresses[i: i + 20] for i in range(0, len(addresses), 20)]

        def one(chunk: list[str]) -> dict[str, int]:
            body = self._call_checked({"module": "account", "action": "balancemulti", "address": ",".join(chunk),
                                       "tag": "latest"})
            result = body.get("result")
            if not isinstance(result, list):
                raise MalformedResponseError(f"explorer {self._host} balancemulti: expected a list")
            out = {}
            for row in result:
                try:
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

        return {pair: value for pair, value in self._run(one, pairs)}

    def probes(self, requests: list[tuple[str, int, int]]) -> Iterator[Probe]:
        for _, probe in self._run(lambda r: self.probe(*r), requests):
            yield probe

    def fetch(self, tasks: list[FetchTask]) -> Iterator[tuple[FetchTask, list[Transfer]]]:
        yield from self._run(lambda t: self.fetch_range(t.action, t.address, t.start, t.end), tasks)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._session.close()

    # ---- one HTTP call, with the retry policy -------------------------------------------
    def _call(self, params: dict[str, Any]) -> dict[str, Any]:
        query = dict(params)
        if self.endpoint.chain_id is not None:
            query["chainid"] = self.endpoint.chain_id
        if self._api_key:
            query["apikey"] = self._api_key
        transient_failures = 0
        throttles = 0
        last_problem = ""
        give_ups = self._give_ups
        while True:
            started = self.pacer.wait(stop=lambda: self._give_ups != give_ups)
            if self._give_ups != give_ups:  # another call gave up on this server meanwhile: so does this one
                raise RateLimitError(self._rate_limit_message(self.pacer.streak))
            self.stats.record(params)
            try:
                body = self._once(query)
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
                    ) from None
                with self.stats._lock:
                    self.stats.retries += 1
                self._sleep(min(self.backoff * 2 ** (transient_failures - 1), 30.0))
                continue
            if _is_rate_limit_body(body):
                # Etherscan's way: HTTP 200, status "0", "Max calls per sec rate limit reached (3/sec)"
                throttles += 1
                self._back_off(throttles, started, None)
                continue
            self.pacer.success(started)
            return body

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

    def _once(self, query: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = self._session.get(self.endpoint.url, params=query, timeout=self.timeout)
        except requests.Timeout:
            raise _Transient(f"no answer within {self.timeout:g} s") from None
        except requests.ConnectionError:
            raise _Transient("cannot connect") from None
        except requests.RequestException as exc:
            raise _Transient(type(exc).__name__) from None
        if resp.status_code == 429:
            # Blockscout: x-ratelimit-reset in ms until its window resets; others: Retry-After
            raise _Throttled(retry_pause(resp.headers))
        if resp.status_code >= 500:
            raise _Transient(f"HTTP {resp.status_code}")
        if resp.status_code in (401, 403):
            raise QuotaError(f"explorer {self._host} refused access (HTTP {resp.status_code}); check ETHERSCAN_API_KEY")
        if resp.status_code != 200:
            raise SourceError(f"explorer {self._host} answered HTTP {resp.status_code}")
        try:
            # invalid UTF-8 in a token's name must not make the whole answer unreadable
            body = json.loads(resp.content.decode("utf-8", "replace"))
        except (ValueError, json.JSONDecodeError):
            snippet = resp.text[:60].strip().replace("\n", " ")
            raise _Transient(f"answer is not JSON ({snippet!r})") from None
        if not isinstance(body, dict):
            raise MalformedResponseError(f"explorer {self._host} answered a JSON {type(body).__name__}, not an object")
        return body

    # ---- API actions ---------------------------------------------------------------------
    def _account(self, action: str, address: str, start: int, end: int, page: int, offset: int) -> list[Any]:
        params = {
            "module": "account", "action": action, "address": address,
            "startblock": start, "endblock": end, "page": page, "offset": offset, "sort": "asc",
        }
        body = self._call_checked(params)
        result = body.get("result")
        if not isinstance(result, list):
            raise MalformedResponseError(
                f"explorer {self._host} {action}: expected a list of records, got {type(result).__name__}"
            )
        return result

    def _call_checked(self, params: dict[str, Any]) -> dict[str, Any]:
        """_call plus the status "0" rules; rate-limit bodies are retried inside."""
        attempts = 0
        while True:
            body = self._call(params)
            status = body.get("status")
            message = str(body.get("message", ""))
            result = body.get("result")
            text = f"{message} {result if isinstance(result, str) else ''}"
            if status == "1":
                return body
            if status == "0":
                if any(m in text.lower() for m in _EMPTY_MARKERS) and result in ([], None, ""):
                    return {"status": "1", "result": []}
                attempts += 1
                if self._retry_refusal(text, attempts):
                    continue
                raise SourceError(f"explorer {self._host} answered an error: {_clean(text)}")
            raise MalformedResponseError(f"explorer {self._host} answered without a valid status field")

    def _retry_refusal(self, text: str, attempts: int) -> bool:
        """A status "0" answer: raise if final, wait and return True if worth asking again."""
        if _is_quota(text):
            raise QuotaError(f"explorer {self._host} refused: {_clean(text)}")
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
            body = self._call({"module": "proxy", "action": action, **params})
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
        result = self._proxy("eth_blockNumber")
        try:
            return int(result, 16)
        except ValueError:
            raise MalformedResponseError(f"explorer {self._host} eth_blockNumber: not a hex number") from None

    def get_code(self, address: str) -> str:
        code = self._proxy("eth_getCode", address=address, tag="latest")
        if len(code) % 2 or any(c not in "0123456789abcdefABCDEF" for c in code[2:]):
            raise MalformedResponseError(f"explorer {self._host} eth_getCode: not hex bytes")
        return code.lower()

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
        pages = 0
        while cursor <= end:
            if max_pages is not None and pages >= max_pages:
                return odd.finish(rows, action, address, cursor)
            page = self._account(action, address, cursor, end, 1, self.page_size)
            pages += 1
            blocks = _sound_blocks(action, page, address, start, end)
            usable = [b is not None and b >= cursor for b in blocks]
            odd.add_page([(r, b) for r, b, ok in zip(page, blocks, usable) if not ok], cursor, end)
            if len(page) < self.page_size:
                rows.extend(r for r, ok in zip(page, usable) if ok)
                break
            in_range = [b for b, ok in zip(blocks, usable) if ok]
            if not in_range:
                raise MalformedResponseError(
                    f"explorer {self._host} {action}: a full page without one well-formed record of {address} "
                    f"in blocks {cursor}..{end}"
                )
            first, last = min(in_range), max(in_range)
            if first == last:
                # One block holds a whole page or more: walk it by page number inside the window.
                rows.extend(self._whole_block(action, address, last,
                                              [r for r, ok in zip(page, usable) if ok], odd, start, end))
                cursor = last + 1
                continue
            rows.extend(r for r, b, ok in zip(page, blocks, usable) if ok and b < last)
            cursor = last
        return odd.finish(rows, action, address, None)

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
        return Probe(address, transfers, pages.next_start, sent)

    def _whole_block(self, action: str, address: str, block: int, first_rows: list[Any], odd: _OddRows,
                     start: int, end: int) -> list[Any]:
        """Every row of one block whose rows fill pages; first_rows are its rows on the (full) first page."""
        rows = list(first_rows)
        page_no = 1
        while True:
            page_no += 1
            if page_no * self.page_size > WINDOW:
                raise SourceError(
                    f"{address} has more than {WINDOW} {action} records in block {block}; "
                    "the explorer cannot list them (use a node: --rpc-url)"
                )
            page = self._account(action, address, block, block, page_no, self.page_size)
            blocks = _sound_blocks(action, page, address, start, end)
            rows.extend(r for r, b in zip(page, blocks) if b == block)
            odd.add_page([(r, b) for r, b in zip(page, blocks) if b != block], block, block)
            if len(page) < self.page_size:
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


def _block_of(row: Any) -> int | None:
    """A row's block when it has a readable one, else None."""
    return read_block(row)


def _sound_blocks(action: str, page: list[Any], address: str, start: int, end: int) -> list[int | None]:
    """Per row: its block if the row is well-formed (may steer the cursor), else None (parse_rows rejects it).

    A failed or zero-value transaction is well-formed: it occupies its place in the explorer's order.
    """
    return [_block_of(r) if row_problem(action, r, address, start, end) is None else None for r in page]


def _clean(text: str) -> str:
    """One line, bounded, printable: explorer messages end up on the analyst's terminal."""
    flat = " ".join(text.split())
    flat = "".join(ch for ch in flat if ch.isprintable())
    return flat[:160]
