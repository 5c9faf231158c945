"""A local HTTP server speaking the explorer APIs, over records held in memory.

Used by the tests (and the benchmarks) so the real explorer client talks real
HTTP on 127.0.0.1. It speaks one of three dialects, each as the project's note
/work/shared/notes/explorer-dialects.md documents it (Part 2 for Etherscan,
Part 1 for Blockscout); tests/test_dialect_server.py pins every documented
answer so this file cannot drift from the note.

- "etherscan" (default): Etherscan API V2 at /v2/api (and /api, as before):
  the {status,message,result} envelope with errors as message "NOTOK" and the
  text in `result`; "No transactions found" / "No records found"; the
  10,000-row window ("paid") or one of the two free-tier behaviours the note
  could not settle ("free-clamp", "free-window"); the proxy module; rate-limit,
  key and daily-limit refusals as HTTP 200 bodies.
- "blockscout": a Blockscout instance's keyless /api: no proxy module (JSON-RPC
  by POST /api/eth-rpc, batches of at most 5), errors in `message` with
  `result` null, HTTP 400/404/429/500 where Blockscout uses them, an empty
  message per action, status "2" for unprocessed internal transactions,
  Blockscout's row shapes, getLogs that ignores paging.
- "blockscout-pro": the same module behaviour behind the PRO gateway
  (/v2/api?chain_id=N, /N/api, POST /N/json-rpc): a key on every request,
  credits, and gateway errors as {"error": ...}.

Where the note marks a behaviour UNCONFIRMED, a keyword option offers each
plausible behaviour (see ExplorerServer.__init__); a client must be right
under all of them.

The records are Etherscan-shaped (Chain.records); the Blockscout dialects
convert rows on the way out. Scripted faults (HTML, truncated JSON, 429, 500,
stalls...) come before everything else, one per request.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

FIXTURES = Path(__file__).resolve().parent / "data" / "bybit-hops"  # real Bybit records: see its README.md

DIALECTS = ("etherscan", "blockscout", "blockscout-pro")
TIERS = ("paid", "free-clamp", "free-window")
RETIRED = ("410", "html", "message")

# ---- exact texts (explorer-dialects.md section in brackets) ----------------------------------------------------
# Etherscan (Part 2 §3)
ES_NOTOK = "NOTOK"
ES_NO_KEY = "Missing/Invalid API Key"
ES_BAD_KEY = "Invalid API Key (#err2)|ETH1"
ES_RATE = "Max calls per sec rate limit reached (3/sec)"
ES_DAILY = "Max daily rate limit reached. 100000 (100%) of 100000 day/limit"
ES_FREE_CHAIN = ("Free API access is not supported for this chain. Please upgrade your api plan for full chain "
                 "coverage. https://etherscan.io/apis")
ES_CHAINID = ("Missing or unsupported chainid parameter (required for v2 api), please see "
              "https://api.etherscan.io/v2/chainlist for the list of supported chainids")
ES_V1 = ("You are using a deprecated V1 endpoint, switch to Etherscan API V2 using "
         "https://docs.etherscan.io/v2-migration")
ES_BAD_MODULE = "Error! Missing Or invalid Module name"
ES_BAD_ACTION = "Error! Missing Or invalid Action name"
ES_BAD_ADDRESS = "Error! Invalid address format"
ES_BAD_PARAM = "Error! Invalid parameter"  # this server's own text for unparseable numbers (no source)
ES_NO_CLOSEST = "Error! No closest block found"
ES_EMPTY = "No transactions found"
ES_EMPTY_LOGS = "No records found"
FREE_TIER_BLOCKED_CHAINS = frozenset({56, 97, 8453, 84532, 10, 11155420, 43114, 43113})  # Part 2 §5
# chains Etherscan V2 serves (a selection, Part 2 §5); only consulted with require_chainid=True
KNOWN_CHAIN_IDS = frozenset({1, 11155111, 560048, 137, 80002, 42161, 421614, 59144, 81457, 199, 42220, 252, 100}
                            | FREE_TIER_BLOCKED_CHAINS)
# Both dialects (Part 2 §3, Part 1 §2.2)
QUERY_TIMEOUT = "Query Timeout occured. Please select a smaller result dataset"  # sic "occured"


def window_message(limit: int) -> str:
    return f"Result window is too large, PageNo x Offset size must be less than or equal to {limit}"


# Blockscout per instance (Part 1 §0, §1, §2, §3)
BS_RATE = "Too many requests. Increase limits now at https://dev.blockscout.com"  # v10.0.0+
BS_EMPTY = {"txlist": "No transactions found", "txlistinternal": "No internal transactions found",
            "tokentx": "No token transfers found", "getlogs": "No logs found"}
BS_PENDING = "Some internal transactions within this block range have not yet been processed"
BS_PENDING_TX = "Internal transactions for this transaction have not been processed yet"
BS_MISSING_MODULE_ACTION = "Params 'module' and 'action' are required parameters"
BS_BATCH = "Payload Too Large. Max batch size is 5"
BS_MAX_BATCH = 5
BS_RETIRED_MESSAGE = "The per-instance API is deprecated, use the PRO API at https://api.blockscout.com"
BS_RETIRED_HTML = (b"<html><head><title>API deprecated</title></head><body><h1>API deprecated</h1>"
                   b"<p>The per-instance API is deprecated. Use the PRO API at https://api.blockscout.com</p>"
                   b"</body></html>")
BS_MAX_BLOCK = 2**31 - 1  # startblock/endblock outside 0..2^31-1 are silently dropped (AC.put_block)
# The module map (AR): module -> actions this server implements, lower-cased (RT lower-cases before lookup).
BS_MODULES: dict[str, set[str]] = {
    "account": {"txlist", "txlistinternal", "tokentx", "balancemulti", "tokenbalance"},
    "logs": {"getlogs"},
    "block": {"eth_block_number", "getblocknobytime"},
    "token": set(), "stats": set(), "contract": set(), "transaction": set(),
}
# PRO gateway (Part 1 §5)
PRO_NO_KEY = "Proceed with API key or make a X402 payment to continue"
PRO_BAD_KEY = "Unauthorized"
PRO_NO_CREDITS = "Out of credits"
PRO_CREDITS_PER_CALL = 20

ETHERSCAN_MODULES: dict[str, set[str]] = {
    "account": {"txlist", "txlistinternal", "tokentx", "balancemulti", "tokenbalance"},
    "logs": {"getLogs"},
    "block": {"getblocknobytime"},
    "proxy": {"eth_blockNumber", "eth_getCode", "eth_getTransactionReceipt", "eth_getTransactionByHash"},
    "contract": set(), "transaction": set(), "stats": set(), "token": set(), "gastracker": set(),
    "getapilimit": {"getapilimit"},
}

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_ZERO_HASH = "0x" + "00" * 32
NO_END = 10**12  # "up to the tip" when no end block is given


def _is_address(value: Any) -> bool:
    return isinstance(value, str) and _ADDRESS.fullmatch(value) is not None


def _positive(value: Any) -> int | None:
    """A decimal integer > 0, or None."""
    try:
        n = int(str(value))
    except ValueError:
        return None
    return n if n > 0 else None


@dataclass
class Chain:
    """Records by action, plus contract code and the head block."""

    records: dict[str, list[dict]] = field(default_factory=lambda: {"txlist": [], "txlistinternal": [], "tokentx": []})
    code: dict[str, str] = field(default_factory=dict)
    receipts: dict[str, dict] = field(default_factory=dict)  # tx hash -> JSON-RPC receipt
    transactions: dict[str, dict] = field(default_factory=dict)  # tx hash -> JSON-RPC transaction
    timestamps: dict[int, int] = field(default_factory=dict)  # block -> unix time
    head: int = 0
    visible_to: int | None = None  # serve only blocks <= this (a chain "cut" at an earlier block)
    # a chain that grows while a run reads it: each head-block answer takes the next of these as the head (and
    # serves blocks up to it), so a run's later head reads see blocks its earlier reads did not
    head_steps: list[int] = field(default_factory=list)
    # (action, address) -> raw rows a hostile or broken explorer adds to every answer about that address,
    # whatever blocks were asked for: rows that are not objects, bad fields, far-future blocks, strangers'
    injected: dict[tuple[str, str], list] = field(default_factory=dict)
    _index: dict = field(default_factory=dict, repr=False)  # action -> (rows by address, rows indexed)

    @classmethod
    def from_fixtures(cls, root: Path = FIXTURES) -> "Chain":
        chain = cls()
        base = root / "etherscan"
        for action, name in (("txlist", "txlist.jsonl"), ("tokentx", "tokentx.jsonl")):
            with open(base / name, encoding="utf-8") as fh:
                chain.records[action] = [json.loads(line) for line in fh if line.strip()]
        for addr in json.loads((base / "code.json").read_text()):
            chain.code[addr.lower()] = "0x6080604052"  # some contract code
        chain.head = max(int(r["blockNumber"]) for rows in chain.records.values() for r in rows) + 100
        return chain

    def current_head(self) -> int:
        return self.visible_to if self.visible_to is not None else self.head

    def query(self, action: str, address: str, start: int, end: int) -> list[dict]:
        top = min(end, self.current_head())
        rows = self._rows_of(action, address)
        out = [r for r in rows if start <= int(r["blockNumber"]) <= top]
        out.sort(key=lambda r: int(r["blockNumber"]))  # stable: file order within a block
        out.extend(self.injected.get((action, address), ()))
        return out

    def query_all(self, action: str, start: int, end: int) -> list[dict]:
        """Every visible row of an action in a block range (no address filter), ascending."""
        top = min(end, self.current_head())
        out = [r for r in self.records.get(action, []) if start <= int(r["blockNumber"]) <= top]
        out.sort(key=lambda r: int(r["blockNumber"]))
        return out

    def seen(self, address: str) -> bool:
        """The address is in some row or has code: an indexer would have it in its database."""
        return address in self.code or any(self._rows_of(action, address) for action in self.records)

    def block_by_time(self, timestamp: int, closest: str) -> int | None:
        """getblocknobytime over the visible blocks whose time is known: the last block at or before the time
        ("before") or the first at or after it ("after"); None when there is none."""
        top = self.current_head()
        known = [(b, t) for b, t in self.timestamps.items() if b <= top]
        if closest == "before":
            before = [b for b, t in known if t <= timestamp]
            return max(before) if before else None
        after = [b for b, t in known if t >= timestamp]
        return min(after) if after else None

    def logs(self, lo: int, hi: int, address: str | None, topics: dict[int, str]) -> list[dict]:
        """Receipt logs in [lo, hi] (visible blocks only) from an address with the given topics (AND),
        ascending by (block, log index), each with its receipt and transaction."""
        hi = min(hi, self.current_head())
        out = []
        for receipt in self.receipts.values():
            block = int(receipt["blockNumber"], 16)
            if not lo <= block <= hi:
                continue
            for lg in receipt.get("logs", []):
                if address is not None and lg["address"].lower() != address:
                    continue
                have = [t.lower() for t in lg.get("topics", [])]
                if any(i >= len(have) or have[i] != want for i, want in topics.items()):
                    continue
                out.append((block, int(lg.get("logIndex", "0x0"), 16), lg, receipt))
        out.sort(key=lambda x: (x[0], x[1]))
        return [{"log": lg, "receipt": rc, "tx": self.transactions.get(rc["transactionHash"].lower(), {})}
                for _, _, lg, rc in out]

    def balance(self, address: str) -> int:
        """ETH balance as the visible rows make it: inflows minus outflows and the gas of sent transactions."""
        top = self.current_head()
        total = 10**30  # whatever it held before: only changes matter
        for action in ("txlist", "txlistinternal"):
            for r in self._rows_of(action, address):
                if int(r["blockNumber"]) > top or r.get("isError", "0") != "0":
                    continue
                value = int(r["value"])
                if r["from"].lower() == address:
                    total -= value
                    if action == "txlist":
                        total -= int(r.get("gasUsed", 21000) or 0) * int(r.get("gasPrice", 10**9) or 0)
                if (r.get("to") or "").lower() == address:
                    total += value
        return total

    def token_balance(self, address: str, token: str) -> int:
        top = self.current_head()
        total = 10**30
        for r in self._rows_of("tokentx", address):
            if int(r["blockNumber"]) <= top and r["contractAddress"].lower() == token:
                total += int(r["value"]) * ((r["to"].lower() == address) - (r["from"].lower() == address))
        return total

    def holds_token(self, address: str, token: str) -> bool:
        top = self.current_head()
        return any(int(r["blockNumber"]) <= top and r["contractAddress"].lower() == token
                   for r in self._rows_of("tokentx", address))

    def trace_index(self, row: dict) -> str:
        """A Blockscout `index` for an internal row without a traceId: its place among its transaction's
        internal rows, from 1 (index 0 is the top-level call, which Blockscout never lists)."""
        records = self.records.get("txlistinternal", [])
        cached = self._index.get("_trace")
        if cached is None or cached[1] != len(records):
            counts: dict[str, int] = {}
            where: dict[int, int] = {}
            for r in records:
                h = str(r.get("hash", "")).lower()
                counts[h] = counts.get(h, 0) + 1
                where[id(r)] = counts[h]
            cached = self._index["_trace"] = (where, len(records))
        return str(cached[0].get(id(row), 1))

    def _rows_of(self, action: str, address: str) -> list[dict]:
        """Rows by address, indexed once (and again whenever rows were added): benchmarks serve millions."""
        records = self.records.get(action, [])
        index = self._index
        if index.get(action, (None, -1))[1] != len(records):
            by_address: dict[str, list[dict]] = {}
            for r in records:
                for side in {r.get("from", "").lower(), r.get("to", "").lower()}:
                    by_address.setdefault(side, []).append(r)
            index[action] = (by_address, len(records))
        return index[action][0].get(address, [])


@dataclass
class Reply:
    """One HTTP answer: a JSON-able body (or raw bytes), a status, a content type, extra headers."""

    body: Any
    status: int = 200
    ctype: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _envelope(status: str, message: str, result: Any, http: int = 200) -> Reply:
    return Reply({"status": status, "message": message, "result": result}, http)


def _notok(text: str) -> Reply:
    """Etherscan's error shape: message "NOTOK", the reason in `result`, HTTP 200 (Part 2 §1, §3)."""
    return _envelope("0", ES_NOTOK, text)


def _bs_error(message: str, http: int = 200, result: Any = None) -> Reply:
    """Blockscout's error shape: the reason in `message`, `result` null (RV; Part 1 §1, §3)."""
    return Reply({"message": message, "result": result, "status": "0"}, http)


class ExplorerServer:
    def __init__(self, chain: Chain, latency: float = 0.0, rate_limit: float | None = None,
                 other_chains: dict[int, Chain] | None = None, *,
                 dialect: str = "etherscan",
                 tier: str = "paid",
                 api_key: str | None = None,
                 daily_limit: int | None = None,
                 credits: int | None = None,
                 pending_internal_from: int | None = None,
                 timeout_over_blocks: int | None = None,
                 retired: str | None = None,
                 unfetched_metadata: set[str] | None = None,
                 null_balances: set[str] | None = None,
                 # ---- behaviours the note leaves UNCONFIRMED: each plausible one, by option ----
                 log_zero: str = "0x",
                 tokentx_log_index: bool = False,
                 over_20: str = "multi",
                 etherscan_default_sort: str = "asc",
                 require_chainid: bool = False,
                 v1_deprecated: bool = False,
                 blockscout_rate_text: str = BS_RATE,
                 blockscout_bytime: str = "object",
                 pro_429: str = "json",
                 pro_retry_after: bool = False,
                 pro_chainid_alias: bool = False):
        """A server over `chain` (chain id 1) and `other_chains` (by chain id), speaking `dialect`.

        Options, all dialects:
          latency: seconds slept before each answer.
          rate_limit: calls allowed per sliding second; past it, the dialect's rate-limit answer
            (etherscan: HTTP 200 NOTOK "Max calls per sec rate limit reached (3/sec)"; blockscout:
            HTTP 429 with x-ratelimit-* headers, no Retry-After; blockscout-pro: HTTP 429).
          timeout_over_blocks: an account list (txlist/txlistinternal/tokentx) whose block span
            (endblock, capped at the head, minus startblock) exceeds this answers "Query Timeout occured...".

        etherscan:
          tier: "paid" (10,000 rows a request, page x offset <= 10000), "free-clamp" (offset silently
            clamped to 1,000; the 10,000 window as paid) or "free-window" (page x offset > 1000 is a
            window error with "1000"). The note cannot tell which free behaviour is real. Free tiers
            also refuse chainids 56, 97, 8453, 84532, 10, 11155420, 43114, 43113.
          api_key: when set, requests must carry it as `apikey`.
          daily_limit: after that many requests, the daily-limit refusal until reset_day().
          log_zero: how getLogs writes a zero number: "0x" (docs example, one live measurement) or
            "0x0" (the alternative the note's Part 1 §7 leaves open).
          tokentx_log_index: add a decimal `logIndex` to tokentx rows without one (the note: "either
            include logIndex or offer it as a toggle"; its value here is the row's place in its tx).
          over_20: balancemulti with more than 20 addresses: "multi" ("Error! Invalid multi address
            format"), "address" ("Error! Invalid address format") or "first20" (answer the first 20).
          etherscan_default_sort: order when `sort` is absent: "asc" (etherscan-cli) or "desc" (docs
            playground).
          require_chainid: refuse a missing or unknown chainid (the default serves chain 1, as before).
          v1_deprecated: answer the V1 path /api with the V1 deprecation refusal (the default answers it).

        blockscout and blockscout-pro:
          pending_internal_from: txlistinternal over a range reaching this block answers status "2"
            with the rows below it.
          unfetched_metadata: token contracts whose tokentx rows carry null name/symbol and "" decimals.
          null_balances: known addresses whose balancemulti balance is JSON null.
          blockscout_rate_text: the 429 body's message (v10.0.0+ text by default; earlier versions
            said "Too Many Requests", in 2023 "429 Too Many Requests").
          blockscout_bytime: getblocknobytime's result: "object" ({"blockNumber": "N"}, the source) or
            "string" (the bare string a TODO in the source says may come "in the next release").

        blockscout (per instance):
          retired: the keyless endpoint is gone: "410" (HTTP 410 "Gone"), "html" (HTTP 200 HTML page) or
            "message" (HTTP 200 JSON envelope; its text is this server's invention, unconfirmed).

        blockscout-pro:
          api_key: the key the gateway accepts (`apikey` query or `Authorization: Bearer`); when None any
            non-empty key is accepted, but one is always required.
          credits: credits left; each HTTP request costs 20 (a JSON-RPC batch counts once: unconfirmed);
            every answer carries x-credits-remaining; at zero, HTTP 402.
          pro_429: the gateway's 429 body, unconfirmed: "json" ({"error":"Too Many Requests"}),
            "envelope" (the instance's Blockscout body passed through) or "text" (plain "Too Many Requests").
          pro_retry_after: also send Retry-After (seconds) on 429; unconfirmed, off by default.
          pro_chainid_alias: accept Etherscan's `chainid` where `chain_id` is missing (unconfirmed).
        """
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {DIALECTS}, not {dialect!r}")
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, not {tier!r}")
        if retired is not None and retired not in RETIRED:
            raise ValueError(f"retired must be None or one of {RETIRED}, not {retired!r}")
        for name, value, allowed in (("log_zero", log_zero, ("0x", "0x0")),
                                     ("over_20", over_20, ("multi", "address", "first20")),
                                     ("etherscan_default_sort", etherscan_default_sort, ("asc", "desc")),
                                     ("blockscout_bytime", blockscout_bytime, ("object", "string")),
                                     ("pro_429", pro_429, ("json", "envelope", "text"))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
        self.chain = chain
        self.other_chains = other_chains or {}  # chainid -> records, as Etherscan V2 serves many chains
        self.latency = latency
        self.rate_limit = rate_limit  # calls per sliding second allowed; past it, the dialect's refusal
        self.dialect = dialect
        self.tier = tier
        self.api_key = api_key
        self.daily_limit = daily_limit
        self.credits = credits  # credits remaining (blockscout-pro)
        self.pending_internal_from = pending_internal_from
        self.timeout_over_blocks = timeout_over_blocks
        self.retired = retired
        self.unfetched_metadata = {a.lower() for a in unfetched_metadata or ()}
        self.null_balances = {a.lower() for a in null_balances or ()}
        self.log_zero = log_zero
        self.tokentx_log_index = tokentx_log_index
        self.over_20 = over_20
        self.etherscan_default_sort = etherscan_default_sort
        self.require_chainid = require_chainid
        self.v1_deprecated = v1_deprecated
        self.blockscout_rate_text = blockscout_rate_text
        self.blockscout_bytime = blockscout_bytime
        self.pro_429 = pro_429
        self.pro_retry_after = pro_retry_after
        self.pro_chainid_alias = pro_chainid_alias

        self.faults: deque[str] = deque()  # scripted answers for the next requests
        self.log: list[dict] = []  # GET/POST query dicts; one {"module": "eth-rpc", ...} per JSON-RPC call
        self.arrivals: list[tuple[float, str]] = []  # (monotonic time, action) per HTTP request, for benchmarks
        self.http_requests = 0
        self.last_headers: CaseInsensitiveDict = CaseInsensitiveDict()
        self.rate_limited = 0
        self.day_requests = 0
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server._handle(self, "GET")

            def do_POST(self):  # noqa: N802
                server._handle(self, "POST")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.base = base
        # the URL a user would configure for the service
        self.url = {"etherscan": f"{base}/v2/api", "blockscout": f"{base}/api",
                    "blockscout-pro": f"{base}/v2/api"}[dialect]
        self.rpc_url = {"etherscan": None, "blockscout": f"{base}/api/eth-rpc",
                        "blockscout-pro": f"{base}/1/json-rpc"}[dialect]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "ExplorerServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def start(self) -> "ExplorerServer":
        return self.__enter__()

    def stop(self) -> None:
        self.__exit__(None, None, None)

    def reset_day(self) -> None:
        """A new UTC day: the daily quota (etherscan daily_limit) starts again."""
        with self._lock:
            self.day_requests = 0

    # ---- transport ---------------------------------------------------------------------------
    def _write(self, h: BaseHTTPRequestHandler, reply: Reply) -> None:
        if isinstance(reply.body, bytes):
            body = reply.body
        else:
            body = json.dumps(reply.body).encode()
            # stand-in for bytes an explorer passes through undecoded: "\\xff" in a record becomes a raw 0xFF
            body = body.replace(b"<RAW-FF>", b"\xff")
        h.send_response(reply.status)
        h.send_header("Content-Type", reply.ctype)
        h.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)

    def _take_slot(self) -> tuple[bool, int, int]:
        """One call against the sliding one-second window: (allowed, slots left, ms until a slot frees)."""
        if not self.rate_limit:
            return True, -1, -1
        with self._lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            allowed = len(self._recent) < self.rate_limit
            if allowed:
                self._recent.append(now)
            else:
                self.rate_limited += 1
            left = max(0, int(self.rate_limit) - len(self._recent))
            reset = math.ceil((1.0 - (now - self._recent[0])) * 1000) if self._recent and not left else 0
            return allowed, left, max(reset, 0)

    def _rate_headers(self, left: int, reset_ms: int) -> dict[str, str]:
        limit = str(int(self.rate_limit)) if self.rate_limit else "-1"  # -1: unlimited (RLP)
        return {"x-ratelimit-limit": limit, "x-ratelimit-remaining": str(left), "x-ratelimit-reset": str(reset_ms)}

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(h.path)
        path = split.path
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        headers = CaseInsensitiveDict(h.headers.items())
        raw = b""
        if method == "POST":
            raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        params = dict(query)
        rpc = method == "POST" and self._is_rpc_path(path)
        calls: Any = None
        if method == "POST" and not rpc and "application/x-www-form-urlencoded" in headers.get("Content-Type", ""):
            params.update({k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()})
        if rpc:
            try:
                calls = json.loads(raw)
            except ValueError:
                calls = None
        with self._lock:
            self.http_requests += 1
            self.arrivals.append((time.monotonic(), "eth-rpc" if rpc else str(params.get("action"))))
            self.last_headers = headers
            if rpc:
                for call in (calls if isinstance(calls, list) else [calls]):
                    call = call if isinstance(call, dict) else {}
                    self.log.append({"module": "eth-rpc", "action": call.get("method"), "params": call.get("params")})
            else:
                self.log.append(params)
            fault = self.faults.popleft() if self.faults else None
        if self.latency:
            time.sleep(self.latency)
        if fault and fault != "ok":  # "ok": answer normally (to place a fault after N good answers)
            reply = self._fault(fault)
        elif self.dialect == "etherscan":
            reply = self._etherscan_gateway(method, path, query, params)
        elif self.dialect == "blockscout":
            reply = self._blockscout_gateway(method, path, params, raw, rpc, calls)
        else:
            reply = self._pro_gateway(method, path, query, params, headers, rpc, calls)
        self._write(h, reply)

    def _is_rpc_path(self, path: str) -> bool:
        if self.dialect == "blockscout":
            return path.rstrip("/") == "/api/eth-rpc"
        if self.dialect == "blockscout-pro":
            return re.fullmatch(r"/\d+/json-rpc/?", path) is not None
        return False

    # ---- etherscan ---------------------------------------------------------------------------
    def _etherscan_gateway(self, method: str, path: str, query: dict, params: dict) -> Reply:
        if path not in ("/v2/api", "/v2/api/", "/api", "/api/"):
            return Reply(b"Page not found", 404, "text/plain")  # plain text (Part 2 §3, edge responses)
        if self.v1_deprecated and path.startswith("/api"):
            return _notok(ES_V1)
        if self.api_key is not None:
            key = params.get("apikey")
            if not key:
                return _notok(ES_NO_KEY)
            if key != self.api_key:
                return _notok(ES_BAD_KEY)
        allowed, _, _ = self._take_slot()
        if not allowed:
            return _notok(ES_RATE)
        if self.daily_limit is not None:
            with self._lock:
                self.day_requests += 1
                over = self.day_requests > self.daily_limit
            if over:
                return _notok(ES_DAILY)
        raw_id = query.get("chainid")  # read from the URL query only, even on POST (Part 2 §1)
        chain_id = int(raw_id) if raw_id and raw_id.isdigit() else None
        if self.require_chainid and (chain_id is None or (chain_id not in KNOWN_CHAIN_IDS
                                                          and chain_id not in self.other_chains)):
            return _notok(ES_CHAINID)
        chain_id = 1 if chain_id is None else chain_id
        if self.tier != "paid" and chain_id in FREE_TIER_BLOCKED_CHAINS:
            return _notok(ES_FREE_CHAIN)
        chain = self.other_chains.get(chain_id, self.chain)
        return self._etherscan(params, chain)

    def _etherscan(self, q: dict, chain: Chain) -> Reply:
        module, action = q.get("module"), q.get("action")
        if module not in ETHERSCAN_MODULES:
            return _notok(ES_BAD_MODULE)
        if action not in ETHERSCAN_MODULES[module]:
            return _notok(ES_BAD_ACTION)
        if module == "proxy":
            return self._etherscan_proxy(action, q, chain)
        if module == "getapilimit":  # the key's daily credits (Part 2 §1, "Usage check"; no chainid needed)
            limit = 100_000 if self.tier != "paid" else 1_500_000
            used = self.day_requests
            return _envelope("1", "OK", {"creditsUsed": used, "creditsAvailable": limit - used, "creditLimit": limit,
                                         "limitInterval": "daily", "intervalExpiryTimespan": "08:42:34"})
        if action in ("txlist", "txlistinternal", "tokentx"):
            return self._etherscan_list(action, q, chain)
        if action == "balancemulti":
            accounts = [a for a in q.get("address", "").split(",") if a]
            if len(accounts) > 20:
                if self.over_20 == "multi":
                    return _notok("Error! Invalid multi address format")
                if self.over_20 == "address":
                    return _notok(ES_BAD_ADDRESS)
                accounts = accounts[:20]
            if not accounts or not all(_is_address(a) for a in accounts):
                return _notok(ES_BAD_ADDRESS)
            return _envelope("1", "OK", [{"account": a.lower(), "balance": str(chain.balance(a.lower()))}
                                         for a in accounts])
        if action == "tokenbalance":
            value = chain.token_balance(q.get("address", "").lower(), q.get("contractaddress", "").lower())
            return _envelope("1", "OK", str(value))
        if action == "getblocknobytime":
            try:
                stamp = int(q.get("timestamp", ""))
            except ValueError:
                return _notok(ES_BAD_PARAM)
            block = chain.block_by_time(stamp, "after" if q.get("closest") == "after" else "before")
            if block is None:
                return _notok(ES_NO_CLOSEST)
            return _envelope("1", "OK", str(block))
        return self._etherscan_logs(q, chain)  # logs/getLogs

    def _etherscan_proxy(self, action: str, q: dict, chain: Chain) -> Reply:
        """module=proxy: bare JSON-RPC bodies (Part 2 §4.9); eth_blockNumber's id is 83 in the docs."""
        if action == "eth_blockNumber":
            if chain.head_steps:
                chain.visible_to = chain.head_steps.pop(0)
            return Reply({"jsonrpc": "2.0", "id": 83, "result": hex(chain.current_head())})
        if action == "eth_getCode":
            return Reply({"jsonrpc": "2.0", "id": 1, "result": chain.code.get(q.get("address", "").lower(), "0x")})
        store = chain.receipts if action == "eth_getTransactionReceipt" else chain.transactions
        return Reply({"jsonrpc": "2.0", "id": 1, "result": store.get(q.get("txhash", "").lower())})

    def _etherscan_window(self, q: dict, limit: int) -> tuple[int, int] | Reply:
        """Rows [lo, hi) to serve, or the window error (Part 2 §2.4). `limit` is the tier's rows a request."""
        page, offset = _positive(q.get("page")), _positive(q.get("offset"))
        if page is None or offset is None:  # both or neither: one alone is ignored (E-CLI-ROOT)
            return 0, limit
        if self.tier == "free-window" and page * offset > 1000:
            return _envelope("0", window_message(1000), None)
        if page * offset > 10_000:
            return _envelope("0", window_message(10_000), None)
        size = min(offset, limit)
        return (page - 1) * size, page * size

    def _tier_limit(self) -> int:
        return 10_000 if self.tier == "paid" else 1000

    def _etherscan_list(self, action: str, q: dict, chain: Chain) -> Reply:
        if action == "txlistinternal" and q.get("txhash") and not q.get("address"):
            return self._etherscan_internal_by_hash(q, chain)
        address, token = q.get("address"), q.get("contractaddress")
        if action == "tokentx" and address is None and token is not None:
            if not _is_address(token):
                return _notok(ES_BAD_ADDRESS)
        elif not _is_address(address) or (token is not None and not _is_address(token)):
            return _notok(ES_BAD_ADDRESS)
        try:
            start = int(q.get("startblock", 0))
            end_raw = q.get("endblock", NO_END)
            end = chain.current_head() if end_raw == "latest" else int(end_raw)
        except ValueError:
            return _notok(ES_BAD_PARAM)
        window = self._etherscan_window(q, self._tier_limit())
        if isinstance(window, Reply):
            return window
        if self._times_out(start, end, chain):
            return _envelope("0", QUERY_TIMEOUT, None)
        if address is not None:
            rows = chain.query(action, address.lower(), start, end)
        else:
            rows = chain.query_all(action, start, end)
        if token is not None:
            rows = [r for r in rows
                    if not isinstance(r, dict) or str(r.get("contractAddress", "")).lower() == token.lower()]
        if q.get("sort", self.etherscan_default_sort) == "desc":
            rows = rows[::-1]
        rows = rows[window[0]: window[1]]
        if action == "tokentx" and self.tokentx_log_index:
            rows = [self._with_log_index(r, chain) for r in rows]
        if not rows:
            return _envelope("0", ES_EMPTY, [])
        return _envelope("1", "OK", rows)

    def _with_log_index(self, row: Any, chain: Chain) -> Any:
        if not isinstance(row, dict) or "logIndex" in row:
            return row
        same = [r for r in chain.records["tokentx"] if r.get("hash") == row.get("hash")]
        return {**row, "logIndex": str(next((i for i, r in enumerate(same) if r is row), 0))}

    def _etherscan_internal_by_hash(self, q: dict, chain: Chain) -> Reply:
        """txlistinternal&txhash=: no hash, no traceId, non-zero values only (Part 2 §4.3); paged by page."""
        txhash = q["txhash"].lower()
        top = chain.current_head()
        rows = [{k: v for k, v in r.items() if k not in ("hash", "traceId")}
                for r in chain.records.get("txlistinternal", [])
                if str(r.get("hash", "")).lower() == txhash and int(r["blockNumber"]) <= top and int(r["value"]) > 0]
        window = self._etherscan_window(q, 10_000)  # not in the 2026-07-01 list: 10,000 on every tier
        if isinstance(window, Reply):
            return window
        rows = rows[window[0]: window[1]]
        return _envelope("1", "OK", rows) if rows else _envelope("0", ES_EMPTY, [])

    def _times_out(self, start: int, end: int, chain: Chain) -> bool:
        limit = self.timeout_over_blocks
        return limit is not None and min(end, chain.current_head()) - start > limit

    def _etherscan_logs(self, q: dict, chain: Chain) -> Reply:
        """logs/getLogs: hex numbers with zero as `log_zero`, blockHash, at most 1,000 a page, page honoured."""
        try:
            lo = int(q.get("fromBlock", 0))
            to = q.get("toBlock", "latest")
            hi = chain.current_head() if to == "latest" else int(to)
        except ValueError:
            return _notok(ES_BAD_PARAM)
        address = q.get("address")
        if address is not None and not _is_address(address):
            return _notok(ES_BAD_ADDRESS)
        window = self._etherscan_window(q, 1000)  # getLogs: 1,000 a query on every tier (Part 2 §4.7)
        if isinstance(window, Reply):
            return window
        topics = {i: q[f"topic{i}"].lower() for i in range(4) if q.get(f"topic{i}")}
        found = chain.logs(lo, hi, address.lower() if address else None, topics)[window[0]: window[1]]
        if not found:
            return _envelope("0", ES_EMPTY_LOGS, [])
        zero = self.log_zero

        def num(value: Any) -> str:
            n = int(value, 16) if isinstance(value, str) else int(value or 0)
            return hex(n) if n else zero

        rows = []
        for item in found:
            lg, rc, tx = item["log"], item["receipt"], item["tx"]
            block = int(rc["blockNumber"], 16)
            rows.append({"address": lg["address"].lower(), "topics": [t.lower() for t in lg.get("topics", [])],
                         "data": lg.get("data", "0x"), "blockNumber": num(block),
                         "blockHash": lg.get("blockHash") or rc.get("blockHash") or _ZERO_HASH,
                         "timeStamp": num(chain.timestamps.get(block, 0)),
                         "gasPrice": num(tx.get("gasPrice") or rc.get("effectiveGasPrice") or 0),
                         "gasUsed": num(rc.get("gasUsed") or 0), "logIndex": num(lg.get("logIndex") or 0),
                         "transactionHash": rc["transactionHash"].lower(),
                         "transactionIndex": num(rc.get("transactionIndex") or 0)})
        return _envelope("1", "OK", rows)

    # ---- blockscout per instance -------------------------------------------------------------
    def _blockscout_gateway(self, method: str, path: str, params: dict, raw: bytes, rpc: bool, calls: Any) -> Reply:
        if self.retired and (path == "/api" or path.startswith("/api/")):
            return self._retired_reply()
        api = path in ("/api", "/api/", "/api/v1", "/api/v1/")
        if not api and not rpc:
            return _bs_error("Not found", 404)
        allowed, left, reset = self._take_slot()
        rate = self._rate_headers(left, reset)
        if not allowed:
            reply = _bs_error(self.blockscout_rate_text, 429)
            reply.headers = {**rate, "x-ratelimit-remaining": "0", "bypass-429-option": "no_bypass"}
            return reply
        reply = self._eth_rpc(calls, raw, self.chain) if rpc else self._blockscout(params, self.chain)
        reply.headers = {**rate, **reply.headers}
        return reply

    def _retired_reply(self) -> Reply:
        if self.retired == "410":
            return Reply(b"Gone", 410, "text/plain")
        if self.retired == "html":
            return Reply(BS_RETIRED_HTML, 200, "text/html")
        # "message": the text is this server's guess (unconfirmed): no source shows what a retired instance says
        return _envelope("0", BS_RETIRED_MESSAGE, None)

    def _blockscout(self, q: dict, chain: Chain) -> Reply:
        """The module/action API behind /api (per instance) and the PRO gateway (RT, AC, LC, BC)."""
        module, action = q.get("module"), q.get("action")
        if not module or not action:
            return _bs_error(BS_MISSING_MODULE_ACTION, 400)
        module, action = module.lower(), action.lower()
        if module not in BS_MODULES:
            return _bs_error("Unknown module", 400)
        if action not in BS_MODULES[module]:
            return _bs_error("Unknown action", 400)
        if action in ("txlist", "txlistinternal", "tokentx"):
            return self._bs_list(action, q, chain)
        if action == "balancemulti":
            return self._bs_balancemulti(q, chain)
        if action == "tokenbalance":
            return self._bs_tokenbalance(q, chain)
        if action == "getlogs":
            return self._bs_logs(q, chain)
        if action == "eth_block_number":
            # JSON-RPC shaped, no status; `id` defaults to 1, a query id is echoed as a string (BC, BV, EV)
            return Reply({"jsonrpc": "2.0", "result": hex(chain.current_head()), "id": q.get("id", 1)})
        return self._bs_bytime(q, chain)

    def _bs_window(self, q: dict) -> tuple[int, int] | Reply:
        """page > 0 else ignored, offset 1..10000 else the default 10000 (HP); page x offset <= 10000."""
        page = _positive(q.get("page")) or 1
        offset = _positive(q.get("offset"))
        offset = offset if offset is not None and offset <= 10_000 else 10_000
        if page * offset > 10_000:
            return _envelope("0", window_message(10_000), None)
        return (page - 1) * offset, page * offset

    @staticmethod
    def _bs_block(q: dict, key: str) -> int | None:
        """A decimal 0..2^31-1, else the bound is silently dropped (AC.put_block)."""
        value = q.get(key)
        if value is None or not value.isdigit() or int(value) > BS_MAX_BLOCK:
            return None
        return int(value)

    def _bs_list(self, action: str, q: dict, chain: Chain) -> Reply:
        address, token, txhash = q.get("address"), q.get("contractaddress"), q.get("txhash")
        if action == "tokentx":
            if address is None and token is None:
                return _bs_error("Query parameter address or contractaddress is required")
            if address is not None and not _is_address(address):
                return _bs_error("Invalid address format")
            if token is not None and not _is_address(token):
                return _bs_error("Invalid contract address format")
        elif action == "txlistinternal" and txhash is not None and address is None:
            if not _TX_HASH.fullmatch(txhash):
                return _bs_error("Invalid txhash format")
            return self._bs_internal_by_hash(txhash.lower(), chain)
        elif action == "txlist" and address is None:
            return _bs_error("Query parameter 'address' is required")
        elif address is not None and not _is_address(address):
            return _bs_error("Invalid address format")
        window = self._bs_window(q)
        if isinstance(window, Reply):
            return window
        start = self._bs_block(q, "startblock")
        end = self._bs_block(q, "endblock")
        lo, hi = start or 0, NO_END if end is None else end
        if self._times_out(lo, hi, chain):
            return _envelope("0", QUERY_TIMEOUT, None)
        pending = (action == "txlistinternal" and self.pending_internal_from is not None
                   and (end is None or end >= self.pending_internal_from))
        if pending:
            hi = min(hi, self.pending_internal_from - 1)
        injected = 0
        if address is not None:
            rows = chain.query(action, address.lower(), lo, hi)
            injected = len(chain.injected.get((action, address.lower()), ()))
        else:
            rows = chain.query_all(action, lo, hi)
        own, extra = rows[:len(rows) - injected], rows[len(rows) - injected:]
        if token is not None:
            own = [r for r in own if r.get("contractAddress", "").lower() == token.lower()]
        if action == "txlistinternal" and q.get("include_zero_value", "").lower() != "true":
            own = [r for r in own if int(r.get("value", 0) or 0) > 0]  # zero-value traces left out by default
        if q.get("sort") != "asc":  # default desc, also for an invalid value (ES @default_options)
            own = own[::-1]
        convert = {"txlist": self._bs_tx_row, "txlistinternal": self._bs_internal_row,
                   "tokentx": self._bs_token_row}[action]
        rows = [convert(r, chain) for r in own] + list(extra)
        rows = rows[window[0]: window[1]]
        if pending:
            return _envelope("2", BS_PENDING, rows)
        if not rows:
            return _envelope("0", BS_EMPTY[action], [])
        return _envelope("1", "OK", rows)

    def _bs_internal_by_hash(self, txhash: str, chain: Chain) -> Reply:
        """txlistinternal&txhash=: page/offset ignored, 10,000 at most; status "2" while the tx's block is
        still pending (AC, v10.0.0+)."""
        top = chain.current_head()
        own = [r for r in chain.records.get("txlistinternal", [])
               if str(r.get("hash", "")).lower() == txhash and int(r["blockNumber"]) <= top and int(r["value"]) > 0]
        block = next((int(r["blockNumber"]) for r in own), None)
        receipt = chain.receipts.get(txhash)
        if block is None and receipt is not None:
            block = int(receipt["blockNumber"], 16)
        if self.pending_internal_from is not None and block is not None and block >= self.pending_internal_from:
            return _envelope("2", BS_PENDING_TX, [])
        rows = [self._bs_internal_row(r, chain) for r in own][:10_000]
        return _envelope("1", "OK", rows) if rows else _envelope("0", BS_EMPTY["txlistinternal"], [])

    @staticmethod
    def _confirmations(row: dict, chain: Chain) -> str:
        return str(max(0, chain.current_head() - int(row["blockNumber"])) + 1)

    def _bs_tx_row(self, r: dict, chain: Chain) -> dict:
        """A txlist row as AV.prepare_transaction writes it: 19 keys, no functionName, methodId "0x"+8 hex or
        "0x" for plain transfers and creations (Part 1 §3)."""
        inp = r.get("input") or "0x"
        to = r.get("to") or ""
        is_error = r.get("isError", "0")
        return {"blockNumber": str(r["blockNumber"]), "timeStamp": str(r.get("timeStamp", "0")), "hash": r["hash"],
                "nonce": str(r.get("nonce", "0")), "blockHash": r.get("blockHash") or _ZERO_HASH,
                "transactionIndex": str(r.get("transactionIndex", "0")), "from": r["from"].lower(), "to": to.lower(),
                "value": str(r["value"]), "gas": str(r.get("gas", "0")), "gasPrice": str(r.get("gasPrice", "0")),
                "isError": is_error, "txreceipt_status": r.get("txreceipt_status", "1" if is_error == "0" else "0"),
                "input": inp, "contractAddress": r.get("contractAddress") or "",
                "cumulativeGasUsed": str(r.get("cumulativeGasUsed", "0")), "gasUsed": str(r.get("gasUsed", "0")),
                "confirmations": self._confirmations(r, chain),
                "methodId": inp[:10] if to and len(inp) >= 10 else "0x"}

    def _bs_internal_row(self, r: dict, chain: Chain) -> dict:
        """A txlistinternal row as AV.prepare_internal_transaction writes it: transactionHash (not hash),
        index (not traceId), callType, errCode (Part 1 §0.4, §2.3)."""
        kind = r.get("type", "call")
        is_error = r.get("isError", "0")
        return {"blockNumber": str(r["blockNumber"]), "timeStamp": str(r.get("timeStamp", "0")),
                "from": r["from"].lower(), "to": (r.get("to") or "").lower(), "value": str(r["value"]),
                "contractAddress": r.get("contractAddress") or "", "transactionHash": r["hash"],
                "index": str(r["traceId"]) if "traceId" in r else chain.trace_index(r),
                "input": r.get("input") or "0x", "type": kind,
                "callType": r.get("callType", "call" if kind == "call" else ""),
                "gas": str(r.get("gas", "0")), "gasUsed": str(r.get("gasUsed", "0")), "isError": is_error,
                "errCode": r.get("errCode") or ("" if is_error == "0" else "Reverted")}

    def _bs_token_row(self, r: dict, chain: Chain) -> dict:
        """A tokentx row as AV.prepare_common_token_transfer writes it: 21 keys, no logIndex, methodId without
        0x, null metadata for tokens not fetched yet (Part 1 §2.4, §3)."""
        method = str(r.get("methodId") or "")
        method = method[2:] if method.startswith("0x") else method
        inp = r.get("input") or "0x"
        if inp == "deprecated":  # Etherscan's placeholder: Blockscout has the real input; its selector at least
            inp = "0x" + method if method else "0x"
        if not method and len(inp) >= 10:
            method = inp[2:10]
        token = r["contractAddress"].lower()
        unfetched = token in self.unfetched_metadata
        return {"blockNumber": str(r["blockNumber"]), "timeStamp": str(r.get("timeStamp", "0")), "hash": r["hash"],
                "nonce": str(r.get("nonce", "0")), "blockHash": r.get("blockHash") or _ZERO_HASH,
                "from": r["from"].lower(), "contractAddress": token, "to": r["to"].lower(), "value": str(r["value"]),
                "tokenName": None if unfetched else r.get("tokenName"),
                "tokenSymbol": None if unfetched else r.get("tokenSymbol"),
                "tokenDecimal": "" if unfetched else str(r.get("tokenDecimal", "")),
                "transactionIndex": str(r.get("transactionIndex", "0")), "gas": str(r.get("gas", "0")),
                "gasPrice": str(r.get("gasPrice", "0")), "gasUsed": str(r.get("gasUsed", "0")),
                "cumulativeGasUsed": str(r.get("cumulativeGasUsed", "0")), "input": inp,
                "confirmations": self._confirmations(r, chain), "methodId": method,
                "functionName": r.get("functionName") or ""}

    def _bs_balancemulti(self, q: dict, chain: Chain) -> Reply:
        """The first 20 addresses; unknown ones prepended with "0"; balance null where not fetched (AC, AV)."""
        if "address" not in q:
            return _bs_error("Query parameter 'address' is required")
        wanted = q["address"].split(",")[:20]
        if not all(_is_address(a) for a in wanted):
            return _bs_error("Invalid address hash")
        wanted = list(dict.fromkeys(a.lower() for a in wanted))
        unknown = [a for a in wanted if not chain.seen(a)]
        known = [a for a in wanted if chain.seen(a)]
        rows = [{"account": a, "balance": "0", "stale": False} for a in unknown]
        rows += [{"account": a, "balance": None if a in self.null_balances else str(chain.balance(a)), "stale": False}
                 for a in known]
        return _envelope("1", "OK", rows)

    def _bs_tokenbalance(self, q: dict, chain: Chain) -> Reply:
        missing = [p for p in ("contractaddress", "address") if p not in q]
        if missing:
            return _bs_error("Required query parameters missing: " + ", ".join(missing))
        if not _is_address(q["contractaddress"]):
            return _bs_error("Invalid contractaddress format")
        if not _is_address(q["address"]):
            return _bs_error("Invalid address format")
        address, token = q["address"].lower(), q["contractaddress"].lower()
        value = chain.token_balance(address, token) if chain.holds_token(address, token) else 0  # "0": no row
        return _envelope("1", "OK", str(value))

    def _bs_logs(self, q: dict, chain: Chain) -> Reply:
        """getLogs (LC, ESL, LV): fromBlock/toBlock required (decimal or latest), address or a topic required,
        page/offset ignored, at most 1,000 rows ascending, 10 keys, hex "0x0" zeros, 4 topics padded with null."""
        missing = [p for p in ("fromBlock", "toBlock") if p not in q]
        has_one = any(p in q for p in ("address", "topic0", "topic1", "topic2", "topic3"))
        if missing or not has_one:
            return _bs_error("Required query parameters missing: "
                             + ", ".join(missing + ([] if has_one else ["address and/or topic{x}"])))
        oprs = {(0, 1): "topic0_1_opr", (0, 2): "topic0_2_opr", (0, 3): "topic0_3_opr",
                (1, 2): "topic1_2_opr", (1, 3): "topic1_3_opr", (2, 3): "topic2_3_opr"}
        need = [name for (a, b), name in oprs.items() if f"topic{a}" in q and f"topic{b}" in q and name not in q]
        if need:
            return _bs_error("Required query parameters missing: " + ", ".join(reversed(need)))
        bounds = []
        for key in ("fromBlock", "toBlock"):
            value = q[key]
            if value == "latest":
                bounds.append(chain.current_head())
            elif re.fullmatch(r"-?\d+", value):
                bounds.append(int(value))
            else:
                return _bs_error(f"Invalid {key} format")
        address = q.get("address")
        if address is not None and not _is_address(address):
            return _bs_error("Invalid address format")
        bad_opr = next((name for name in oprs.values() if q.get(name) not in ("and", "or", None)), None)
        if bad_opr:
            return _bs_error(f"Invalid {bad_opr} format")
        # this server combines topics with AND whatever the operators say (the client sends one topic)
        topics = {i: q[f"topic{i}"].lower() for i in range(4) if q.get(f"topic{i}")}
        found = chain.logs(bounds[0], bounds[1], address.lower() if address else None, topics)[:1000]
        if not found:
            return _bs_error(BS_EMPTY["getlogs"], result=[])
        rows = []
        for item in found:
            lg, rc, tx = item["log"], item["receipt"], item["tx"]
            block = int(rc["blockNumber"], 16)
            topics_out = [t.lower() for t in lg.get("topics", [])][:4]
            rows.append({"address": lg["address"].lower(), "topics": topics_out + [None] * (4 - len(topics_out)),
                         "data": lg.get("data", "0x"), "blockNumber": hex(block),
                         "timeStamp": hex(chain.timestamps.get(block, 0)),
                         "gasPrice": hex(_num(tx.get("gasPrice") or rc.get("effectiveGasPrice") or 0)),
                         "gasUsed": hex(_num(rc.get("gasUsed") or 0)), "logIndex": hex(_num(lg.get("logIndex") or 0)),
                         "transactionHash": rc["transactionHash"].lower(),
                         "transactionIndex": hex(_num(rc.get("transactionIndex") or 0))})
        return _envelope("1", "OK", rows)

    def _bs_bytime(self, q: dict, chain: Chain) -> Reply:
        if "timestamp" not in q:
            return _bs_error("Query parameter 'timestamp' is required")
        if "closest" not in q:
            return _bs_error("Query parameter 'closest' is required")
        if q["closest"] not in ("before", "after"):
            return _bs_error("Invalid `closest` param")
        try:
            stamp = int(q["timestamp"])
        except ValueError:
            return _bs_error("Invalid `timestamp` param")
        block = chain.block_by_time(stamp, q["closest"])
        if block is None:
            return _bs_error("Block does not exist")
        result = {"blockNumber": str(block)} if self.blockscout_bytime == "object" else str(block)
        return _envelope("1", "OK", result)

    # ---- JSON-RPC (blockscout /api/eth-rpc, pro /N/json-rpc) ---------------------------------
    def _eth_rpc(self, calls: Any, raw: bytes, chain: Chain) -> Reply:
        """Blockscout's ETH RPC (EC, ERPC, EV): one call or a batch of at most 5; Blockscout-native methods
        answer errors as a plain string in `error`."""
        if calls is None:
            # unparseable JSON: Plug.Parsers refuses it before the controller; the exact body is unconfirmed
            return _bs_error("Invalid JSON", 400)
        if isinstance(calls, list):
            if len(calls) > BS_MAX_BATCH:
                return _envelope("0", BS_BATCH, None, 413)
            return Reply([self._rpc_one(c, chain) for c in calls])
        return Reply(self._rpc_one(calls, chain))

    def _rpc_one(self, call: Any, chain: Chain) -> dict:
        if not isinstance(call, dict) or "id" not in call:
            return {"jsonrpc": "2.0", "error": "id is a required field", "id": 0}
        rid, method, params = call["id"], call.get("method"), call.get("params", [])
        arity = {"eth_blockNumber": 0, "eth_getCode": 2, "eth_getTransactionReceipt": 1,
                 "eth_getTransactionByHash": 1}
        if method not in arity:
            return {"jsonrpc": "2.0", "error": "Action not found.", "id": rid}
        if not isinstance(params, list) or len(params) != arity[method]:
            return {"jsonrpc": "2.0", "error": "Incorrect number of params.", "id": rid}
        if method == "eth_blockNumber":
            result: Any = hex(chain.current_head())
        elif method == "eth_getCode":
            result = chain.code.get(str(params[0]).lower(), "0x")
        else:
            txhash = params[0]
            if not isinstance(txhash, str) or not _TX_HASH.fullmatch(txhash):
                return {"jsonrpc": "2.0", "error": "Transaction hash is invalid", "id": rid}
            if method == "eth_getTransactionReceipt":
                result = chain.receipts.get(txhash.lower())
            else:
                tx = chain.transactions.get(txhash.lower())
                result = None if tx is None else ({**tx, "accessList": []} if "accessList" in tx else tx)
        return {"jsonrpc": "2.0", "result": result, "id": rid}

    # ---- blockscout PRO gateway ----------------------------------------------------------------
    def _pro_gateway(self, method: str, path: str, query: dict, params: dict, headers: CaseInsensitiveDict,
                     rpc: bool, calls: Any) -> Reply:
        path_id = re.fullmatch(r"/(\d+)/(?:api/?|json-rpc/?)", path)
        if not rpc and not path_id and path not in ("/v2/api", "/v2/api/"):
            return Reply({"error": "Not Found"}, 404)  # the gateway's 404 body is unconfirmed
        reply = self._pro_checked(path_id, query, params, headers, rpc, calls)
        if self.credits is not None:
            reply.headers["x-credits-remaining"] = str(self.credits)
        return reply

    def _pro_checked(self, path_id, query: dict, params: dict, headers: CaseInsensitiveDict, rpc: bool,
                     calls: Any) -> Reply:
        key = params.get("apikey")
        auth = headers.get("Authorization", "")
        if not key and auth.startswith("Bearer "):
            key = auth[len("Bearer "):].strip()
        if not key:
            return Reply({"error": PRO_NO_KEY}, 401)
        if self.api_key is not None and key != self.api_key:
            return Reply({"error": PRO_BAD_KEY}, 401)
        allowed, left, reset = self._take_slot()
        rate = self._rate_headers(left, reset)
        if not allowed:
            rate["x-ratelimit-remaining"] = "0"
            if self.pro_retry_after:
                rate["Retry-After"] = str(max(1, math.ceil(reset / 1000)))
            if self.pro_429 == "json":
                return Reply({"error": "Too Many Requests"}, 429, headers=rate)
            if self.pro_429 == "text":
                return Reply(b"Too Many Requests", 429, "text/plain", headers=rate)
            reply = _bs_error(self.blockscout_rate_text, 429)
            reply.headers = {**rate, "bypass-429-option": "no_bypass"}
            return reply
        if self.credits is not None:
            with self._lock:
                if self.credits <= 0:
                    return Reply({"error": PRO_NO_CREDITS}, 402, headers=rate)
                self.credits = max(0, self.credits - PRO_CREDITS_PER_CALL)
        if path_id:
            chain_id: str | None = path_id.group(1)
        else:
            chain_id = query.get("chain_id") or (query.get("chainid") if self.pro_chainid_alias else None)
        if chain_id is None or not chain_id.isdigit():
            return Reply({"error": "chain_id is required"}, 400, headers=rate)  # invented text: unconfirmed
        chain = self.chain if int(chain_id) == 1 else self.other_chains.get(int(chain_id))
        if chain is None:
            return Reply({"error": "Unsupported chain"}, 400, headers=rate)  # invented text: unconfirmed
        reply = self._eth_rpc(calls, b"", chain) if rpc else self._blockscout(params, chain)
        reply.headers = {**rate, **reply.headers}
        return reply

    # ---- scripted faults -----------------------------------------------------------------------
    def _fault(self, fault: str) -> Reply:
        blockscout = self.dialect != "etherscan"
        if fault == "html":
            return Reply(b"<html><body>Cloudflare: checking your browser</body></html>", 200, "text/html")
        if fault == "truncated":
            return Reply(b'{"status":"1","message":"OK","result":[{"blockNumber":"1')
        if fault == "429":
            return Reply(b"Too Many Requests", 429, "text/plain")
        if fault == "500":
            if blockscout:  # an action that raised, e.g. a database timeout (RT)
                return _bs_error("Something went wrong.", 500)
            return Reply(b"Internal Server Error", 500, "text/plain")
        if fault == "502":  # a proxy or CDN in front of the service (unconfirmed for both)
            return Reply(b"<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>",
                         502, "text/html")
        if fault == "ratelimit":
            if self.dialect == "blockscout":
                return Reply(_bs_error(self.blockscout_rate_text).body, 429,
                             headers={**self._rate_headers(0, 1000), "x-ratelimit-remaining": "0",
                                      "bypass-429-option": "no_bypass"})
            if self.dialect == "blockscout-pro":
                return Reply({"error": "Too Many Requests"}, 429, headers={"x-ratelimit-reset": "1000"})
            return _notok("Max rate limit reached")
        if fault == "timeout":
            return _envelope("0", QUERY_TIMEOUT, None)
        if fault == "invalid-key":
            return _notok(ES_BAD_KEY)
        if fault == "daily":
            return _notok("Max daily rate limit reached. 100000 (100/sec)")
        if fault == "unknown-status0":
            return _notok("Something odd happened")
        if fault == "dict-result":
            return _envelope("1", "OK", {"unexpected": True})
        if fault == "list-body":
            return Reply([1, 2, 3])
        if fault == "stall":
            time.sleep(2.0)
            return _envelope("0", "No transactions found", [])
        raise ValueError(fault)


def _num(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value or 0)
