"""A local HTTP server speaking the Etherscan API shape, over records held in memory.

Used by the tests (and the benchmarks) so the real explorer client talks
real HTTP on 127.0.0.1. It answers like Etherscan does: "No transactions
found" as status "0", the 10,000-record window, rate-limit bodies with
HTTP 200, and scripted faults (HTML, truncated JSON, 429, 500, stalls).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent / "data" / "bybit-hops"  # real Bybit records: see its README.md


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


class ExplorerServer:
    def __init__(self, chain: Chain, latency: float = 0.0, rate_limit: float | None = None,
                 other_chains: dict[int, Chain] | None = None):
        self.chain = chain
        self.other_chains = other_chains or {}  # chainid -> records, as Etherscan V2 serves many chains
        self.latency = latency
        self.rate_limit = rate_limit  # calls per second allowed; past it, Etherscan's rate-limit body
        self.faults: deque[str] = deque()  # scripted answers for the next requests
        self.log: list[dict] = []
        self.rate_limited = 0
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server._handle(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api"
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

    # ---- request handling ------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/json") -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _json(self, h, obj, status: int = 200) -> None:
        body = json.dumps(obj).encode()
        # stand-in for bytes an explorer passes through undecoded: "\\xff" in a record becomes a raw 0xFF
        self._send(h, status, body.replace(b"<RAW-FF>", b"\xff"))

    def _over_rate(self) -> bool:
        if not self.rate_limit:
            return False
        with self._lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit:
                self.rate_limited += 1
                return True
            self._recent.append(now)
            return False

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        q = {k: v[0] for k, v in parse_qs(urlsplit(h.path).query).items()}
        with self._lock:
            self.log.append(q)
            fault = self.faults.popleft() if self.faults else None
        if self.latency:
            time.sleep(self.latency)
        if fault and fault != "ok":  # "ok": answer normally (to place a fault after N good answers)
            return self._fault(h, fault)
        if self._over_rate():
            return self._json(h, {"status": "0", "message": "NOTOK", "result": "Max calls per sec rate limit reached (5/sec)"})
        chain_id = int(q.get("chainid", 1) or 1)
        if chain_id in self.other_chains:
            return self._answer(h, q, self.other_chains[chain_id])
        return self._answer(h, q, self.chain)

    def _answer(self, h, q: dict, chain: Chain) -> None:
        module, action = q.get("module"), q.get("action")
        if module == "account" and action == "balancemulti":
            accounts = [a.lower() for a in q.get("address", "").split(",") if a]
            if not accounts or len(accounts) > 20:
                return self._json(h, {"status": "0", "message": "NOTOK", "result": "Error! Maximum of 20 addresses"})
            return self._json(h, {"status": "1", "message": "OK",
                                  "result": [{"account": a, "balance": str(chain.balance(a))} for a in accounts]})
        if module == "account" and action == "tokenbalance":
            value = chain.token_balance(q.get("address", "").lower(), q.get("contractaddress", "").lower())
            return self._json(h, {"status": "1", "message": "OK", "result": str(value)})
        if module == "block" and action == "getblocknobytime":
            stamp = int(q.get("timestamp", 0))
            later = sorted(b for b, t in chain.timestamps.items() if t >= stamp)
            return self._json(h, {"status": "1", "message": "OK", "result": str(later[0] if later else chain.head)})
        if module == "proxy" and action == "eth_blockNumber":
            return self._json(h, {"jsonrpc": "2.0", "id": 83, "result": hex(chain.current_head())})
        if module == "proxy" and action == "eth_getTransactionReceipt":
            receipt = chain.receipts.get(q.get("txhash", "").lower())
            return self._json(h, {"jsonrpc": "2.0", "id": 1, "result": receipt})
        if module == "proxy" and action == "eth_getTransactionByHash":
            tx = chain.transactions.get(q.get("txhash", "").lower())
            return self._json(h, {"jsonrpc": "2.0", "id": 1, "result": tx})
        if module == "logs" and action == "getLogs":
            return self._json(h, self._logs(q, chain))
        if module == "proxy" and action == "eth_getCode":
            code = chain.code.get(q.get("address", "").lower(), "0x")
            return self._json(h, {"jsonrpc": "2.0", "id": 1, "result": code})
        if module == "account" and action in ("txlist", "txlistinternal", "tokentx"):
            try:
                start, end = int(q["startblock"]), int(q["endblock"])
                page, offset = int(q.get("page", 1)), int(q.get("offset", 10000))
            except (KeyError, ValueError):
                return self._json(h, {"status": "0", "message": "NOTOK", "result": "Error! Invalid parameter"})
            if page * offset > 10000:
                return self._json(h, {"status": "0", "message": "NOTOK",
                                      "result": "Result window is too large, PageNo x Offset size must be less than or equal to 10000"})
            rows = chain.query(action, q.get("address", "").lower(), start, end)
            rows = rows[(page - 1) * offset: page * offset]
            if not rows:
                return self._json(h, {"status": "0", "message": "No transactions found", "result": []})
            return self._json(h, {"status": "1", "message": "OK", "result": rows})
        return self._json(h, {"status": "0", "message": "NOTOK", "result": "Error! Missing Or invalid Module name"})

    def _logs(self, q: dict, chain: Chain) -> dict:
        """Etherscan's logs.getLogs: hex fields, timeStamp and gasPrice added, 1,000 a page."""
        lo, hi = int(q.get("fromBlock", 0)), min(int(q.get("toBlock", 0)), chain.current_head())
        address, topic0 = q.get("address", "").lower(), q.get("topic0", "").lower()
        page, offset = int(q.get("page", 1)), int(q.get("offset", 1000))
        rows = []
        for receipt in sorted(chain.receipts.values(), key=lambda r: int(r["blockNumber"], 16)):
            block = int(receipt["blockNumber"], 16)
            if not lo <= block <= hi:
                continue
            tx = chain.transactions.get(receipt["transactionHash"].lower(), {})
            for lg in receipt["logs"]:
                if lg["address"].lower() == address and lg["topics"] and lg["topics"][0].lower() == topic0:
                    rows.append({**lg, "timeStamp": hex(chain.timestamps.get(block, 0)),
                                 "gasPrice": tx.get("gasPrice", "0x0")})
        rows = rows[(page - 1) * offset: page * offset]
        if not rows:
            return {"status": "0", "message": "No records found", "result": []}
        return {"status": "1", "message": "OK", "result": rows}

    def _fault(self, h: BaseHTTPRequestHandler, fault: str) -> None:
        if fault == "html":
            return self._send(h, 200, b"<html><body>Cloudflare: checking your browser</body></html>", "text/html")
        if fault == "truncated":
            return self._send(h, 200, b'{"status":"1","message":"OK","result":[{"blockNumber":"1')
        if fault == "429":
            return self._send(h, 429, b"Too Many Requests", "text/plain")
        if fault == "500":
            return self._send(h, 500, b"Internal Server Error", "text/plain")
        if fault == "ratelimit":
            return self._json(h, {"status": "0", "message": "NOTOK", "result": "Max rate limit reached"})
        if fault == "invalid-key":
            return self._json(h, {"status": "0", "message": "NOTOK", "result": "Invalid API Key (#err2)|ETH1"})
        if fault == "daily":
            return self._json(h, {"status": "0", "message": "NOTOK", "result": "Max daily rate limit reached. 100000 (100/sec)"})
        if fault == "unknown-status0":
            return self._json(h, {"status": "0", "message": "NOTOK", "result": "Something odd happened"})
        if fault == "dict-result":
            return self._json(h, {"status": "1", "message": "OK", "result": {"unexpected": True}})
        if fault == "list-body":
            return self._json(h, [1, 2, 3])
        if fault == "stall":
            time.sleep(2.0)
            return self._json(h, {"status": "0", "message": "No transactions found", "result": []})
        raise ValueError(fault)
