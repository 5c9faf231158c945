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
from ..records import parse_rows
from .base import FetchTask
from .pacing import Pacer

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
    """Etherscan V2 with a key, Blockscout without, or the URL the user named."""
    if override:
        parts = urlsplit(override)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            from ..errors import InputError

            raise InputError(f"explorer URL must be http(s)://host/...: {override!r}")
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
    """The server said to slow down."""


_EMPTY_MARKERS = ("no transactions found", "no records found", "no token transfers found",
                  "no internal transactions found", "no data found")


def _is_rate_limit(text: str) -> bool:
    t = text.lower()
    return ("rate limit" in t or "too many requests" in t) and "daily" not in t


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
        while True:
            self.pacer.wait()
            self.stats.record(params)
            try:
                return self._once(query)
            except _Throttled:
                throttles += 1
                self._back_off(throttles)
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

    def _back_off(self, throttles: int) -> None:
        """The server said "slow down" for the n-th time in a row: pause everyone, or give up."""
        with self.stats._lock:
            self.stats.rate_limited += 1
        if throttles > self.rate_limit_retries:
            raise RateLimitError(
                f"explorer {self._host} kept answering 'rate limit reached' after {throttles} tries; "
                "lower --rate or try later"
            )
        self.pacer.penalise(min(self.throttle_pause * throttles, 10.0))

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
            raise _Throttled()
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
        if _is_rate_limit(text):
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

        Paged by block cursor; see the module docstring for why.
        """
        rows, _ = self._rows(action, address, start, end, max_pages=None)
        return parse_rows(action, rows)

    def _rows(self, action: str, address: str, start: int, end: int, max_pages: int | None) -> tuple[list, int | None]:
        """Raw records of whole blocks, and the block to continue from if max_pages cut it short."""
        rows: list[Any] = []
        cursor = start
        pages = 0
        while cursor <= end:
            if max_pages is not None and pages >= max_pages:
                return rows, cursor
            page = self._account(action, address, cursor, end, 1, self.page_size)
            pages += 1
            if len(page) < self.page_size:
                rows.extend(page)
                break
            last = _block_of(page[-1])
            first = _block_of(page[0])
            if first == last:
                # One block holds a whole page or more: walk it by page number inside the window.
                rows.extend(self._whole_block(action, address, last, page))
                cursor = last + 1
                continue
            rows.extend(r for r in page if _block_of(r) < last)
            cursor = last
        return rows, None

    def probe(self, address: str, start: int, end: int) -> Probe:
        """The first page of an address's transactions: do they show it sending one?

        An account that sent a transaction is not a contract (contracts never
        sign one), so a wallet with outgoing transactions needs no eth_getCode,
        and the page is the start of its txlist anyway: tracing a wallet costs
        its three lists and nothing more. Only one page is read, so an unknown
        contract with a huge history costs one request before eth_getCode
        stops the trace there.
        """
        rows, next_start = self._rows("txlist", address, start, end, max_pages=1)
        sent = any(isinstance(r, dict) and str(r.get("from", "")).lower() == address for r in rows)
        return Probe(address, parse_rows("txlist", rows), next_start, sent)

    def _whole_block(self, action: str, address: str, block: int, first_page: list[Any]) -> list[Any]:
        rows = list(first_page)
        page_no = 1
        while len(first_page) == self.page_size:
            page_no += 1
            if page_no * self.page_size > WINDOW:
                raise SourceError(
                    f"{address} has more than {WINDOW} {action} records in block {block}; "
                    "the explorer cannot list them (use a node: --rpc-url)"
                )
            first_page = self._account(action, address, block, block, page_no, self.page_size)
            rows.extend(first_page)
        return rows


def _block_of(row: Any) -> int:
    try:
        return int(row["blockNumber"])
    except (KeyError, TypeError, ValueError):
        raise MalformedResponseError("explorer record without a valid blockNumber") from None


def _clean(text: str) -> str:
    """One line, bounded, printable: explorer messages end up on the analyst's terminal."""
    flat = " ".join(text.split())
    flat = "".join(ch for ch in flat if ch.isprintable())
    return flat[:160]
