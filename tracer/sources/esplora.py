"""Bitcoin through an Esplora REST API: Blockstream's (blockstream.info, self-hosted esplora) or mempool.space's.

How the services really answer is in ../shared/notes/esplora.md, with sources; the parts this client is
built around:

- Confirmed history is paged only through `/address/:a/txs/chain` and `/txs/chain/:last_seen_txid`, newest
  first. Paging from a mempool txid (or any txid the server does not know) silently answers `[]`, so the
  mempool is read apart (`/txs/mempool`) and never used as a page cursor.
- The page size is the server's (25 on both public services, but a self-hosted mempool/electrs may be
  configured otherwise), so a short page is not taken on trust: history is complete only when as many
  transactions as `/address/:a` counted have been read, or a page comes back empty.
- Errors are plain-text bodies ("Invalid Bitcoin address", "Transaction not found"); a self-hosted mempool
  on an electrum backend answers JSON `{"error": …}` and has no `/txs/chain` at all (detected from
  `"electrum": true` in `/address/:a`, and refused in one line).
- 429 comes without Retry-After (blockstream.info: a JSON notice of its keyless 700 requests/hour;
  mempool.space: an HTML page): the pacer slows down and the call backs off exponentially.
- Optional keys are omitted rather than null (`scriptpubkey_address` of an OP_RETURN, an unconfirmed tx's
  `status` fields); the mempool Node backend writes `""` instead. Missing, null and "" read alike.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from ..chain_addresses import check
from ..errors import MalformedResponseError, QuotaError, RateLimitError, SourceError
from ..records import RejectedRecord, clean_reason
from .jsonrpc import redact_url
from .pacing import Pacer

DEFAULT_URL = "https://blockstream.info/api"
# Keyless budgets by host (calls/s): blockstream.info caps unauthenticated use at 700 requests/hour per IP
# (its 429 notice, notes §2.2); mempool.space publishes no number; a self-hosted esplora's nginx template
# allows 5 r/s with a burst of 10.
HOST_RATES = {"blockstream.info": 700 / 3600, "mempool.space": 1.0}
SELF_HOSTED_RATE = 5.0
_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_SATS = 21_000_000 * 10**8


@dataclass(frozen=True)
class BtcOutput:
    n: int
    address: str | None  # None: no address form (OP_RETURN, bare multisig, P2PK, non-standard)
    value: int  # satoshis
    script_type: str
    op_return: bytes | None = None  # the pushed data of an OP_RETURN output


@dataclass(frozen=True)
class BtcInput:
    txid: str  # the outpoint spent ("" for a coinbase)
    vout: int
    address: str | None
    value: int | None  # None for a coinbase (or a prevout the server could not resolve)
    script_type: str = ""  # the spent output's scriptpubkey_type (change detection compares it with the outputs')


@dataclass(frozen=True)
class BtcTx:
    txid: str
    height: int | None  # None: unconfirmed
    time: int | None
    inputs: tuple[BtcInput, ...]
    outputs: tuple[BtcOutput, ...]
    fee: int

    @property
    def confirmed(self) -> bool:
        return self.height is not None


@dataclass(frozen=True)
class AddressStats:
    tx_count: int  # confirmed transactions
    mempool_tx_count: int
    funded: int  # confirmed satoshis received and spent: a balance is funded - spent
    spent: int


class IncompleteHistory(SourceError):
    """One address's history could not be read whole this time (see EsploraClient.history): that address is
    left for the next run, the others go on."""


class _Retry(Exception):
    def __init__(self, problem: str, throttled: bool = False):
        super().__init__(problem)
        self.problem = problem
        self.throttled = throttled


def default_rate(url: str) -> float:
    host = (urlsplit(url).hostname or "").lower()
    return next((r for h, r in HOST_RATES.items() if host == h or host.endswith("." + h)), SELF_HOSTED_RATE)


class EsploraClient:
    """One Esplora host, paced (one pacer per host), with the explorer client's retry policy."""

    name = "esplora"

    def __init__(self, url: str = DEFAULT_URL, rate: float | None = None, timeout: float = 30.0, retries: int = 6,
                 backoff: float = 0.25, sleep=time.sleep, max_requests: int | None = None):
        self.url = url.rstrip("/")
        self._host = redact_url(self.url)
        self.service = f"esplora {urlsplit(self.url).hostname or self.url}"  # usage is booked per host
        self.rate = rate or default_rate(self.url)
        self.pacer = Pacer(self.rate)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._session = requests.Session()
        self._lock = threading.Lock()
        self.requests = 0
        self.rate_limited = 0
        self.rejected: list[RejectedRecord] = []
        self.max_requests = max_requests  # --btc-max-requests: this run's share of a keyless hourly budget

    # ---- the API -------------------------------------------------------------------------------
    def tip_height(self) -> int:
        text = self._get("/blocks/tip/height", text=True)
        if not text.strip().isdigit():
            raise MalformedResponseError(f"esplora {self._host}: the tip height is not a number")
        return int(text.strip())

    def address(self, address: str) -> AddressStats:
        body = self._get(f"/address/{quote(address, safe='')}")
        if not isinstance(body, dict):
            raise MalformedResponseError(f"esplora {self._host}: /address answered {type(body).__name__}, not an object")
        if body.get("electrum"):
            raise SourceError(f"esplora {self._host} is a mempool backend on electrum or Bitcoin Core: it has no "
                              "/txs/chain paging and its sums are not totals; use an esplora/electrs backend "
                              "(blockstream.info, mempool.space, or a self-hosted esplora)")
        chain, pool = body.get("chain_stats"), body.get("mempool_stats")
        if not isinstance(chain, dict) or not isinstance(pool, dict):
            raise MalformedResponseError(f"esplora {self._host}: /address answered without chain_stats")
        return AddressStats(_count(chain, "tx_count", self._host), _count(pool, "tx_count", self._host),
                            _count(chain, "funded_txo_sum", self._host), _count(chain, "spent_txo_sum", self._host))

    def history(self, address: str, known: frozenset[str] | set[str] = frozenset(),
                stats: AddressStats | None = None, tip: int | None = None, since: int = 0) -> list[BtcTx]:
        """Confirmed transactions of `address`, newest first, down to the first one in `known` (the last run's
        newest) or to its first transaction.

        A short page proves nothing (the page size is the server's own), so the history ends at an empty page,
        or once as many transactions as /address counted have been read among those mined at or below `tip`
        (a tip read before the count: transactions mined since come on top, and are not counted against it),
        or at the first transaction mined below `since` (newest first: the rest is older still)."""
        stats = stats or self.address(address)
        if stats.tx_count == 0:
            return []
        out: list[BtcTx] = []
        ids: set[str] = set()
        last: str | None = None
        counted = 0  # read (or listed and unreadable) at or below the tip: the early stop
        listed = 0  # read or listed at any height: what the count must be reached by at the end
        while True:
            path = f"/address/{quote(address, safe='')}/txs/chain" + (f"/{last}" if last else "")
            page = self._get(path)
            if not isinstance(page, list):
                raise MalformedResponseError(f"esplora {self._host}: a history page is not a list")
            if not page:
                if last is not None and listed < stats.tx_count:
                    # the cursor led nowhere before the count was reached: the server answers [] for a txid it
                    # no longer has (a reorganised block), and mempool.space leaves out a transaction whose
                    # prevouts it cannot resolve; never taken as the end of the history
                    raise IncompleteHistory(f"esplora {self._host}: the history of {address} ended after {listed} of "
                                            f"{stats.tx_count} transactions (a vanished page cursor, or a "
                                            "transaction the server leaves out); it is read again next run")
                return out
            for raw in page:
                tx = self._parse(raw, address)
                listed += 1
                if tx is None:
                    counted += 1  # listed, unreadable (see rejected): it counts as read
                    continue
                if tx.txid in known or tx.confirmed and tx.height < since:
                    return out
                if tx.txid in ids or not tx.confirmed:
                    listed -= 1
                    continue  # (read once; an unconfirmed one is never on /txs/chain, nor trusted there)
                ids.add(tx.txid)
                out.append(tx)
                if tip is not None and tx.height <= tip:
                    counted += 1
            next_last = _txid_of(page[-1])
            if next_last is None or next_last == last:
                raise MalformedResponseError(f"esplora {self._host}: a history page of {address} does not move on")
            last = next_last
            if tip is not None and counted >= stats.tx_count:
                return out

    def mempool(self, address: str) -> list[BtcTx]:
        page = self._get(f"/address/{quote(address, safe='')}/txs/mempool")
        if not isinstance(page, list):
            raise MalformedResponseError(f"esplora {self._host}: the mempool list is not a list")
        seen: dict[str, BtcTx] = {}
        for raw in page:
            tx = self._parse(raw, address)
            if tx is not None and not tx.confirmed:
                seen.setdefault(tx.txid, tx)  # (mempool.space once listed each twice)
        return list(seen.values())

    def tx(self, txid: str) -> BtcTx | None:
        """The transaction, or None where the server does not know it (404 "Transaction not found")."""
        try:
            raw = self._get(f"/tx/{txid}", missing_ok=True)
        except _NotFound:
            return None
        return self._parse(raw, "")

    def outspends(self, txid: str) -> list[tuple[str, int] | None]:
        """Per output: (spending txid, its input index), or None while unspent."""
        body = self._get(f"/tx/{txid}/outspends")
        if not isinstance(body, list):
            raise MalformedResponseError(f"esplora {self._host}: outspends of {txid} is not a list")
        out: list[tuple[str, int] | None] = []
        for item in body:
            if isinstance(item, dict) and item.get("spent") is True and isinstance(item.get("txid"), str) \
                    and _HEX64.fullmatch(item["txid"].lower()) and _is_count(item.get("vin")):
                out.append((item["txid"].lower(), item["vin"]))
            else:
                out.append(None)
        return out

    def close(self) -> None:
        self._session.close()

    # ---- one GET, with the retry policy ----------------------------------------------------------
    def _get(self, path: str, text: bool = False, missing_ok: bool = False) -> Any:
        url = self.url + path
        throttles = transient = 0
        problem = ""
        while True:
            started = self.pacer.wait()
            with self._lock:
                if self.max_requests is not None and self.requests >= self.max_requests:
                    raise QuotaError(f"--btc-max-requests {self.max_requests} reached; everything fetched is kept: "
                                     "rerun (in an hour, on a keyless host) to go on from there")
                self.requests += 1
            try:
                return self._once(url, text, missing_ok)
            except _Retry as exc:
                problem = exc.problem
                if exc.throttled:
                    throttles += 1
                    with self._lock:
                        self.rate_limited += 1
                    self.pacer.slow_down(started)
                    if throttles > self.retries:
                        raise RateLimitError(
                            f"esplora {self._host} kept answering 429 (Too Many Requests) after {throttles} tries "
                            f"({problem}); lower --btc-rate, use another --btc-url, or try later") from None
                    pause = self.backoff * 2 ** (throttles - 1)  # no Retry-After on any of them
                    self.pacer.penalise(pause)
                    continue
                transient += 1
                if transient > self.retries:
                    raise SourceError(f"esplora {self._host} failed {transient} times in a row: {problem}") from None
                self._sleep(min(self.backoff * 2 ** (transient - 1), 30.0))
            else:
                self.pacer.success(started)

    def _once(self, url: str, text: bool, missing_ok: bool = False) -> Any:
        try:
            resp = self._session.get(url, timeout=self.timeout)
        except requests.Timeout:
            raise _Retry("timed out") from None
        except requests.RequestException as exc:
            raise _Retry(f"cannot connect ({type(exc).__name__})") from None
        body = resp.text
        if resp.status_code == 429:
            raise _Retry(_gist(body, resp.headers.get("Content-Type", "")), throttled=True)
        if resp.status_code in (500, 502, 503, 504):
            raise _Retry(f"HTTP {resp.status_code} {_gist(body, resp.headers.get('Content-Type', ''))}")
        if resp.status_code == 404 and body.strip() == "Transaction not found" and missing_ok:
            raise _NotFound()
        if resp.status_code != 200:
            what = _gist(body, resp.headers.get("Content-Type", ""))
            if resp.status_code == 404 and what.startswith("endpoint does not exist"):
                what += " (not an Esplora API: check --btc-url, e.g. https://blockstream.info/api)"
            raise SourceError(f"esplora {self._host} answered HTTP {resp.status_code}: {what}")
        if text:
            return body
        try:
            return resp.json()
        except ValueError:
            raise MalformedResponseError(f"esplora {self._host}: not JSON ({_gist(body, '')})") from None

    # ---- reading a transaction -----------------------------------------------------------------
    def _parse(self, raw: Any, address: str) -> BtcTx | None:
        """A transaction, or None (recorded in `rejected`) when it is not one this client can trust."""
        txid = _txid_of(raw)
        try:
            if txid is None:
                raise ValueError("no txid")
            status = raw.get("status") or {}
            if not isinstance(status, dict):
                raise ValueError("status is not an object")
            height = status.get("block_height") if status.get("confirmed") is True else None
            when = status.get("block_time") if height is not None else None
            if height is not None and not _is_count(height) or when is not None and not _is_count(when):
                raise ValueError("bad block height or time")
            inputs, outputs = [], []
            for v in _list(raw, "vin"):
                prev = v.get("prevout")
                if v.get("is_coinbase") is True:
                    inputs.append(BtcInput("", 0, None, None))
                    continue
                if prev is None:  # Blockstream's answer when it cannot resolve a prevout: whose coin is unknown
                    raise ValueError("an input's prevout is missing (the server could not resolve it)")
                if not isinstance(prev, dict) or not _is_sats(prev.get("value")) or not _is_count(v.get("vout")) \
                        or not isinstance(v.get("txid"), str) or not _HEX64.fullmatch(v["txid"].lower()):
                    raise ValueError("an input is malformed")
                inputs.append(BtcInput(v["txid"].lower(), v["vout"], _btc_address(prev), prev["value"],
                                      _script_type(prev)))
            for n, o in enumerate(_list(raw, "vout")):
                if not _is_sats(o.get("value")):
                    raise ValueError(f"output {n} has no valid value")
                kind = _script_type(o)
                outputs.append(BtcOutput(n, _btc_address(o), o["value"], kind,
                                         _op_return(o) if kind == "op_return" else None))
            fee = raw.get("fee", 0)
            if not _is_sats(fee):
                raise ValueError("bad fee")
        except (ValueError, AttributeError, TypeError) as exc:
            self.rejected.append(RejectedRecord(f"btc:{address}" if address else "", "esplora-tx", txid or "", None,
                                                clean_reason(str(exc))))
            return None
        return BtcTx(txid, height, when, tuple(inputs), tuple(outputs), fee)


class _NotFound(Exception):
    pass


def _txid_of(raw: Any) -> str | None:
    txid = raw.get("txid") if isinstance(raw, dict) else None
    return txid.lower() if isinstance(txid, str) and _HEX64.fullmatch(txid.lower()) else None


def _list(raw: dict, key: str) -> list[dict]:
    items = raw.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"{key} is not a list of objects")
    return items


def _script_type(out: dict) -> str:
    kind = out.get("scriptpubkey_type")
    return kind[:20] if isinstance(kind, str) and kind else "unknown"


def _btc_address(out: dict) -> str | None:
    text = out.get("scriptpubkey_address")
    if not isinstance(text, str) or not text:  # omitted (electrs) or "" (mempool's Node backend): no address form
        return None
    checked = check("btc", text)
    if checked.address is None:
        raise ValueError("an output address is not a Bitcoin address")
    return checked.address


def _op_return(out: dict) -> bytes | None:
    script = out.get("scriptpubkey")
    if not isinstance(script, str) or not script.startswith("6a"):
        return None
    try:
        data = bytes.fromhex(script[2:])
    except ValueError:
        return None
    if not data:
        return b""
    n = data[0]
    if n <= 75:
        return data[1:1 + n]
    if n == 0x4c and len(data) > 1:  # OP_PUSHDATA1
        return data[2:2 + data[1]]
    if n == 0x4d and len(data) > 2:  # OP_PUSHDATA2
        return data[3:3 + int.from_bytes(data[1:3], "little")]
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_sats(value: Any) -> bool:
    return _is_count(value) and value <= MAX_SATS


def _count(obj: dict, key: str, host: str) -> int:
    value = obj.get(key)
    if not _is_count(value):
        raise MalformedResponseError(f"esplora {host}: /address answered a bad {key}")
    return value


def _gist(body: str, content_type: str) -> str:
    """A refusal's body as one short printable line: a JSON notice's message, an HTML page's title, or the text."""
    text = body.strip()
    if text.startswith("{"):
        import json

        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            text = str(doc.get("message") or doc.get("error") or text)
    elif "html" in content_type.lower() or text.lower().startswith("<"):
        title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
        text = title.group(1) if title else "an HTML page"
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    cap = re.search(r"([\d,]+) requests/hour", text)
    if cap:  # blockstream.info's notice: the figure is what matters, past a long preamble
        return f"keyless limit {cap.group(1)} requests/hour per IP"
    return text[:160]
