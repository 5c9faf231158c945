"""A local Esplora REST server, answering as ../shared/notes/esplora.md documents the real ones (with sources):
Blockstream's electrs (blockstream.info, self-hosted esplora: `variant="blockstream"`) and mempool.space's fork
(`variant="mempool"`). What each does differently is what the notes list, no more:

- `/address/:a/txs/chain[/:last_seen]`: newest first, 25 a page (mempool: `?max_txs=N` too, and a server may be
  configured with another default: `chain_page`); an unknown last_seen gives `[]`, a malformed one page 1.
  Within one block, Blockstream orders by history row (funding/spending tag, then txid), mempool by reverse
  position in the block.
- `/address/:a/txs`: Blockstream: up to 50 mempool txs then the first 25 confirmed; mempool: `max_txs`
  (default 50) combined, `after_txid` paging, 422 `after_txid not found` for an unknown one.
- errors are text/plain bodies with the exact strings of the notes' §2.1 table; unknown routes answer
  404 `endpoint does not exist "/the/path"`.
- 429 carries no Retry-After: Blockstream's body is a JSON notice (700 requests/hour), mempool's an HTML page.
- optional keys are omitted, never null (`scriptpubkey_address` of an OP_RETURN, `status` fields of an
  unconfirmed tx, `witness` when empty); a coinbase input has `prevout: null`.

The chain is built by tests with `BtcChain` (coinbase and spend, mined at a height or left in the mempool);
txids are derived from the content.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from tracer.chain_addresses import check

BLOCKSTREAM_429 = json.dumps({
    "error": "Too Many Requests",
    "message": "Blockstream Explorer API NOTICE: Your request rate exceeds the current limit. Starting July 15 2025, "
               "monthly unauthenticated usage will be capped at 500,000 requests/month and 700 requests/hour per IP. "
               "To maintain uninterrupted access, get your API key at: https://dashboard.blockstream.info"})
MEMPOOL_429 = ("<html><head><title>429 Too Many Requests</title></head><body><center><h1>429 Too Many Requests</h1>"
               "</center><center><h2>Sign Up for <a href=\"https://mempool.space/enterprise\">Mempool Enterprise</a> "
               "to get increased API limits</h2></center></body></html>")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
BLOCK_TIME0 = 1_740_150_000  # block times: this plus 600 s a block above HEIGHT0
HEIGHT0 = 884_000


def script_type(address: str) -> str:
    if address.startswith("bc1p"):
        return "v1_p2tr"
    if address.startswith("bc1q"):
        return "v0_p2wpkh" if len(address) == 42 else "v0_p2wsh"
    return "p2sh" if address.startswith("3") else "p2pkh"


@dataclass
class BtcChain:
    """Transactions in Esplora's JSON shape, by txid, with the height each was mined at (None: mempool)."""

    tip: int = HEIGHT0
    txs: dict[str, dict] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # txids in the order added: block position within a height
    _n: int = 0

    def _txid(self, body: object) -> str:
        self._n += 1
        return hashlib.sha256(json.dumps([self._n, body], sort_keys=True).encode()).hexdigest()

    def coinbase(self, address: str, value: int, height: int) -> str:
        """A block reward to `address`: a coin with no traced past (a THORChain vault's funding, say)."""
        vin = [{"txid": "0" * 64, "vout": 4294967295, "prevout": None, "scriptsig": "03", "scriptsig_asm": "",
                "is_coinbase": True, "sequence": 4294967295}]
        return self._add(vin, [(address, value)], height, fee=0)

    def spend(self, inputs: list[tuple[str, int]], outputs: list[tuple[str | None, int]], height: int | None,
              op_return: bytes | None = None, fee: int = 1_000) -> str:
        """Spend `inputs` (txid, vout) into `outputs` (address, sats); `op_return` adds an OP_RETURN output with
        that payload first; `height` None leaves it in the mempool. The fee is what the inputs leave over."""
        vin = []
        for txid, n in inputs:
            prev = self.txs[txid]["vout"][n]
            vin.append({"txid": txid, "vout": n, "prevout": dict(prev), "scriptsig": "", "scriptsig_asm": "",
                        "witness": ["30440220" + "ab" * 32, "02" + "cd" * 32], "is_coinbase": False,
                        "sequence": 4294967293})
        fee = sum(v["prevout"]["value"] for v in vin) - sum(value for _, value in outputs)
        assert fee >= 0, "outputs exceed inputs"
        return self._add(vin, outputs, height, fee, op_return)

    def _add(self, vin, outputs, height, fee, op_return=None) -> str:
        vout = []
        if op_return is not None:
            data = op_return.hex()
            vout.append({"scriptpubkey": f"6a{len(op_return):02x}{data}",
                         "scriptpubkey_asm": f"OP_RETURN OP_PUSHBYTES_{len(op_return)} {data}",
                         "scriptpubkey_type": "op_return", "value": 0})
        for address, value in outputs:
            vout.append({"scriptpubkey": "0014" + hashlib.sha256(str(address).encode()).hexdigest()[:40],
                         "scriptpubkey_asm": "OP_0 OP_PUSHBYTES_20 …", "scriptpubkey_type": script_type(address),
                         "scriptpubkey_address": address, "value": value})
        txid = self._txid([vin, vout, height])
        tx = {"txid": txid, "version": 2, "locktime": 0, "vin": vin, "vout": vout, "size": 222, "weight": 561,
              "fee": fee, "status": self._status(height)}
        self.txs[txid] = tx
        self.order.append(txid)
        if height is not None:
            self.tip = max(self.tip, height)
        return txid

    def mine(self, txid: str, height: int) -> None:
        self.txs[txid]["status"] = self._status(height)
        self.tip = max(self.tip, height)

    @staticmethod
    def _status(height: int | None) -> dict:
        if height is None:
            return {"confirmed": False}
        return {"confirmed": True, "block_height": height, "block_hash": hashlib.sha256(str(height).encode()).hexdigest(),
                "block_time": BLOCK_TIME0 + 600 * (height - HEIGHT0)}

    # ---- queries --------------------------------------------------------------------------
    def history(self, address: str) -> list[tuple[str, str]]:
        """(txid, tag) of every tx funding ("F") or spending ("S") from the address, in the order added."""
        out = []
        for txid in self.order:
            tx = self.txs[txid]
            if any(v.get("prevout") and v["prevout"].get("scriptpubkey_address") == address for v in tx["vin"]):
                out.append((txid, "S"))
            elif any(o.get("scriptpubkey_address") == address for o in tx["vout"]):
                out.append((txid, "F"))
        return out

    def confirmed(self, address: str, variant: str) -> list[str]:
        """The address's confirmed txids newest first, ties in a block as each backend orders them."""
        rows = [(self.txs[t]["status"]["block_height"], self.order.index(t), t, tag)
                for t, tag in self.history(address) if self.txs[t]["status"]["confirmed"]]
        if variant == "blockstream":  # reverse scan of H{scripthash}{height}{tag}{txid} rows
            rows.sort(key=lambda r: (r[0], r[3], r[2]), reverse=True)
        else:  # mempool/electrs keys rows by tx position in the block too
            rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
        return [r[2] for r in rows]

    def unconfirmed(self, address: str) -> list[str]:
        return [t for t, _ in self.history(address) if not self.txs[t]["status"]["confirmed"]]

    def stats(self, address: str) -> dict:
        def of(txids: list[str]) -> dict:
            funded = [o for t in txids for o in self.txs[t]["vout"] if o.get("scriptpubkey_address") == address]
            spent = [v["prevout"] for t in txids for v in self.txs[t]["vin"]
                     if v.get("prevout") and v["prevout"].get("scriptpubkey_address") == address]
            return {"funded_txo_count": len(funded), "funded_txo_sum": sum(o["value"] for o in funded),
                    "spent_txo_count": len(spent), "spent_txo_sum": sum(o["value"] for o in spent),
                    "tx_count": len(txids)}
        return {"address": address, "chain_stats": of(self.confirmed(address, "blockstream")),
                "mempool_stats": of(self.unconfirmed(address))}

    def outspends(self, txid: str) -> list[dict]:
        out = []
        for n, o in enumerate(self.txs[txid]["vout"]):
            spender = None
            if o["scriptpubkey_type"] != "op_return":
                for t in self.order:
                    for i, v in enumerate(self.txs[t]["vin"]):
                        if v["txid"] == txid and v["vout"] == n:
                            spender = (t, i)
            if spender is None:
                out.append({"spent": False})
            else:
                out.append({"spent": True, "txid": spender[0], "vin": spender[1],
                            "status": self.txs[spender[0]]["status"]})
        return out


class EsploraServer:
    """Serves a BtcChain as `variant` ("blockstream" or "mempool") answers; `faults` scripts the next answers
    ("429", "500", "slow"); `before_page(address, last_seen)` runs before each /txs/chain page (new blocks
    arriving between page reads); `log` keeps every path asked."""

    def __init__(self, chain: BtcChain, variant: str = "blockstream", chain_page: int = 25,
                 latency: float = 0.0, rate_limit: float | None = None):
        assert variant in ("blockstream", "mempool")
        self.chain = chain
        self.variant = variant
        self.chain_page = chain_page
        self.latency = latency
        self.rate_limit = rate_limit
        self.faults: deque[str] = deque()
        # txids whose prevouts the backend cannot resolve (notes §1.3, §1.7): Blockstream answers `prevout: null`
        # for their inputs, mempool.space leaves them out of every list (and answers /tx with 500)
        self.missing_prevout: set[str] = set()
        self.failing: set[str] = set()  # path fragments answered HTTP 500 every time (a backend in trouble)
        self.before_page: Callable[[str, str | None], None] | None = None
        self.log: list[str] = []
        self.rate_limited = 0
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                owner._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "EsploraServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- HTTP --------------------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        with self._lock:
            self.log.append(req.path)
            fault = self.faults.popleft() if self.faults else None
            limited = self._over_limit()
        if self.latency:
            time.sleep(self.latency)
        if fault == "429" or limited:
            with self._lock:
                self.rate_limited += 1
            if self.variant == "blockstream":
                return self._send(req, 429, BLOCKSTREAM_429, "application/json")
            return self._send(req, 429, MEMPOOL_429, "text/html")
        if fault == "500" or any(f in parts.path for f in self.failing):
            return self._send(req, 500, "Internal Server Error", "text/plain")
        try:
            status, body, ctype = self._route(parts.path, parse_qs(parts.query))
        except _Http as exc:
            status, body, ctype = exc.status, exc.text, "text/plain"
        self._send(req, status, body, ctype)

    def _over_limit(self) -> bool:
        if not self.rate_limit:
            return False
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            return True
        self._recent.append(now)
        return False

    @staticmethod
    def _send(req, status: int, body, ctype: str) -> None:
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(data)))
        req.send_header("Cache-Control", "public, max-age=10")
        req.end_headers()
        try:
            req.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, path: str, q: dict) -> tuple[int, object, str]:
        if not path.startswith("/api/"):
            raise _Http(404, f'endpoint does not exist "{path}"')
        seg = path[len("/api/"):].split("/")
        chain = self.chain
        if seg == ["blocks", "tip", "height"]:
            return 200, str(chain.tip), "text/plain"
        if seg[0] == "address" and len(seg) >= 2:
            address = self._address(seg[1])
            rest = seg[2:]
            if not rest:
                return 200, chain.stats(address), "application/json"
            if rest == ["txs", "mempool"]:
                return 200, [chain.txs[t] for t in chain.unconfirmed(address)][:50], "application/json"
            if rest[:2] == ["txs", "chain"] and len(rest) <= 3:
                last = rest[2] if len(rest) == 3 else None
                if self.before_page is not None:
                    self.before_page(address, last)
                return 200, self._chain_page(address, last, q), "application/json"
            if rest == ["txs"]:
                return 200, self._txs(address, q), "application/json"
        if seg[0] == "tx" and len(seg) >= 2:
            txid = seg[1]
            if not _HEX64.fullmatch(txid):
                raise _Http(400, "Invalid hex string")
            txid = txid.lower()
            rest = seg[2:]
            if rest == ["status"]:  # 200 {"confirmed":false} for an unknown txid
                tx = chain.txs.get(txid)
                return 200, tx["status"] if tx else {"confirmed": False}, "application/json"
            if rest[:1] == ["outspend"] and len(rest) == 2:
                if not rest[1].isdigit():
                    raise _Http(400, "Invalid number")
                if txid not in chain.txs or int(rest[1]) >= len(chain.txs[txid]["vout"]):
                    return 200, {"spent": False}, "application/json"
                return 200, chain.outspends(txid)[int(rest[1])], "application/json"
            if txid not in chain.txs:
                raise _Http(404, "Transaction not found")
            if not rest:
                if txid in self.missing_prevout and self.variant == "mempool":
                    raise _Http(500, "Transaction missing prevouts")
                return 200, self._shown(txid), "application/json"
            if rest == ["outspends"]:
                return 200, chain.outspends(txid), "application/json"
        raise _Http(404, f'endpoint does not exist "{path}"')

    def _address(self, text: str) -> str:
        checked = check("btc", text)
        if checked.address is None:
            if text.startswith(("tb1", "bcrt1", "m", "n", "2")) and len(text) > 25:
                raise _Http(400, "Address on invalid network")
            raise _Http(400, "Invalid Bitcoin address")
        return text

    def _shown(self, txid: str) -> dict | None:
        """A transaction as this backend shows it in a list, or None where it leaves it out."""
        tx = self.chain.txs[txid]
        if txid not in self.missing_prevout:
            return tx
        if self.variant == "mempool":
            return None
        return {**tx, "vin": [{**v, "prevout": None} if not v.get("is_coinbase") else v for v in tx["vin"]]}

    def _chain_page(self, address: str, last: str | None, q: dict) -> list[dict]:
        txids = self.chain.confirmed(address, self.variant)
        size = self.chain_page
        if self.variant == "mempool" and q.get("max_txs", [""])[0].isdigit():
            size = int(q["max_txs"][0])
        if last is not None and _HEX64.fullmatch(last):  # a malformed one is ignored: page 1
            last = last.lower()
            if last not in txids:
                return []  # unknown (or a mempool txid): 200 [] (notes §1.4)
            txids = txids[txids.index(last) + 1:]
        return [tx for tx in (self._shown(t) for t in txids[:size]) if tx is not None]

    def _txs(self, address: str, q: dict) -> list[dict]:
        mempool = self.chain.unconfirmed(address)
        confirmed = self.chain.confirmed(address, self.variant)
        if self.variant == "blockstream":
            return [self.chain.txs[t] for t in mempool[:50] + confirmed[:25]]
        max_txs = int(q["max_txs"][0]) if q.get("max_txs", [""])[0].isdigit() else 50
        every = mempool + confirmed
        after = q.get("after_txid", [None])[0]
        if after is not None and _HEX64.fullmatch(after):
            if after.lower() not in every:
                raise _Http(422, "after_txid not found")
            every = every[every.index(after.lower()) + 1:]
        return [self.chain.txs[t] for t in every[:max_txs]]


class _Http(Exception):
    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status = status
        self.text = text
