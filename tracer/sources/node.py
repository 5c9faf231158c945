"""JSON-RPC node source: a whole frontier per query.

An explorer answers one address per call; a node answers "every Transfer
log sent by any of these 500 addresses in these blocks" in one eth_getLogs,
and trace_filter does the same for native and internal ETH. So the number
of calls for a hop grows with the number of chunks and block-range pieces,
not with the number of addresses.

Providers cap what one query may cover, each in its own words. A refused
range is split (to the range the provider suggests when it names one) and
the span that worked is remembered for the next queries.

The transfers it produces have exactly the identities the explorer source
gives the same movements (see records.assign_positions), so both sources
can feed one store.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from eth_abi import decode

from ..errors import MalformedResponseError, SourceError
from ..models import ERC20, ETH, INTERNAL, NATIVE, ZERO_VALUE, Transfer, memo_from_input
from ..records import MAX_BLOCK, MAX_TIMESTAMP, MAX_UINT256, RejectedRecord, assign_positions, clean_reason
from ..tokens import lookup, token_flags
from .base import FetchTask, group_by_task
from .jsonrpc import JsonRpcClient, RpcError, is_range_limit, max_span, suggested_range

log = logging.getLogger(__name__)

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
LOGS = "rpc-logs"  # ERC-20 Transfer logs, both directions
TRACES = "rpc-traces"  # native and internal ETH, from trace_filter
BLOCKS = "rpc-blocks"  # native ETH only, by scanning blocks (node without trace_filter)

_ARCHIVE_HINTS = ("missing trie node", "header not found", "state is not available", "historical state",
                  "pruned", "state not available", "required historical state")
_UNSUPPORTED_HINTS = ("method not found", "not supported", "does not exist", "not available", "unsupported",
                      "not implemented", "unknown method")


def _topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def _hex_int(value, what: str) -> int:
    try:
        if isinstance(value, int):
            return value
        return int(str(value), 16) if str(value).startswith("0x") else int(str(value))
    except ValueError:
        raise MalformedResponseError(f"node answered a malformed {what}: {str(value)[:40]!r}") from None


_HEX_ADDR = re.compile(r"0x[0-9a-f]{40}")
_HEX_HASH = re.compile(r"0x[0-9a-f]{64}")
_HEX_WORD = re.compile(r"0x[0-9a-f]{64}")


def _addr(value, what: str) -> str:
    text = str(value or "").lower()
    if not _HEX_ADDR.fullmatch(text):
        raise MalformedResponseError(f"node answered a malformed {what}: {text[:50]!r}")
    return text


def _tx_hash(value, what: str = "transaction hash") -> str:
    text = str(value or "").lower()
    if not _HEX_HASH.fullmatch(text):
        raise MalformedResponseError(f"node answered a malformed {what}: {text[:70]!r}")
    return text


def _readable_hash(value) -> str:
    text = str(value or "").lower() if isinstance(value, str) else ""
    return text if _HEX_HASH.fullmatch(text) else ""


def _readable_block(value) -> int | None:
    try:
        block = _hex_int(value, "block")
    except MalformedResponseError:
        return None
    return block if 0 <= block <= MAX_BLOCK else None


def _block(value) -> int:
    block = _hex_int(value, "block number")
    if not 0 <= block <= MAX_BLOCK:
        raise MalformedResponseError(f"node answered a block number out of bounds: {str(value)[:40]!r}")
    return block


def _amount(value, what: str) -> int:
    amount = _hex_int(value, what)
    if amount > MAX_UINT256:
        raise MalformedResponseError(f"node answered a {what} larger than a uint256")
    return amount


def _problem(exc: Exception) -> str:
    """A MalformedResponseError's text as a reject reason, without the "node answered" preamble."""
    text = str(exc)
    for prefix in ("node answered ", "node "):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    return text


class NodeSource:
    def __init__(
        self,
        client: JsonRpcClient,
        chain_id: int = 1,
        chunk_size: int = 500,
        trace_page: int = 1000,
        use_traces: bool = True,
        warn: Callable[[str], None] = lambda msg: log.warning(msg),
    ):
        self.client = client
        self.name = f"rpc:{client.display}"
        self.chain_id = chain_id
        self.chunk_size = chunk_size
        self.trace_page = trace_page
        self._use_traces = use_traces
        self._warn = warn
        self._ready = False
        self.has_traces = False
        self._span: dict[str, int | None] = {"eth_getLogs": None, "trace_filter": None}
        self._timestamps: dict[int, int] = {}
        self._token_meta: dict[str, tuple[str, int]] = {}
        self._warned_blocks = False
        # Logs, traces and transactions skipped as malformed or out of place (see Source.rejected).
        self.rejected: list[RejectedRecord] = []
        self._rejected_lock = threading.Lock()

    def _reject(self, action: str, address: str, tx_hash: str, block: int | None, reason: str,
                entry=None, seen: set[str] | None = None) -> None:
        """Skip one entry, recording why; an entry answered to both queries (from and to sides) counts once."""
        if seen is not None:
            key = repr(entry)
            if key in seen:
                return
            seen.add(key)
        record = RejectedRecord(address=address, action=action, tx_hash=tx_hash, block=block,
                                reason=clean_reason(reason))
        with self._rejected_lock:
            self.rejected.append(record)

    # ---- setup ----------------------------------------------------------------------------
    @property
    def requests(self) -> int:
        return self.client.stats.requests

    @property
    def calls(self) -> int:
        return self.client.stats.calls

    @property
    def rate_limited(self) -> int:
        return self.client.stats.rate_limited

    @property
    def actions(self) -> tuple[str, ...]:
        return (LOGS, TRACES) if self.has_traces else (LOGS, BLOCKS)

    def head_block(self) -> int:
        self._connect()
        return _hex_int(self.client.call("eth_blockNumber", []), "block number")

    def _connect(self) -> None:
        """Once per node: the right chain, and whether it has trace_filter."""
        if self._ready:
            return
        try:
            chain = _hex_int(self.client.call("eth_chainId", []), "chain id")
        except RpcError as err:
            raise SourceError(f"node {self.client.display} cannot tell its chain id: {err}") from None
        if chain != self.chain_id:
            raise SourceError(
                f"node {self.client.display} is on chain {chain}, not {self.chain_id}; check --rpc-url / --chain-id"
            )
        self.has_traces = self._use_traces and self._probe_traces()
        self._ready = True

    def _probe_traces(self) -> bool:
        try:
            head = _hex_int(self.client.call("eth_blockNumber", []), "block number")
            self.client.call("trace_filter", [{"fromBlock": hex(head), "toBlock": hex(head),
                                               "fromAddress": ["0x" + "00" * 20], "count": 1}])
            return True
        except RpcError as err:
            if any(h in err.message.lower() for h in _UNSUPPORTED_HINTS) or err.code == -32601:
                return False
            raise SourceError(f"node {self.client.display} trace_filter failed: {err}") from None

    def close(self) -> None:
        pass

    # ---- code -----------------------------------------------------------------------------
    def codes(self, addresses: list[str]) -> Iterator[tuple[str, str]]:
        self._connect()
        results = self.client.batch([("eth_getCode", [a, "latest"]) for a in addresses])
        for address, code in zip(addresses, results):
            if isinstance(code, RpcError):
                raise self._fail("eth_getCode", code)
            if not isinstance(code, str) or not code.startswith("0x"):
                raise MalformedResponseError(f"node {self.client.display} eth_getCode: not hex bytes")
            yield address, code.lower()

    def receipts(self, tx_hashes: list[str]) -> Iterator[tuple[str, dict | None]]:
        self._connect()
        results = self.client.batch([("eth_getTransactionReceipt", [h]) for h in tx_hashes])
        for h, r in zip(tx_hashes, results):
            if isinstance(r, RpcError):
                raise self._fail("eth_getTransactionReceipt", r)
            if r is not None and not isinstance(r, dict):
                raise MalformedResponseError(f"node {self.client.display} eth_getTransactionReceipt: not an object")
            yield h, r

    def balances(self, addresses: list[str]) -> dict[str, int]:
        self._connect()
        results = self.client.batch([("eth_getBalance", [a, "latest"]) for a in addresses])
        out = {}
        for a, r in zip(addresses, results):
            if isinstance(r, RpcError):
                raise self._fail("eth_getBalance", r)
            out[a] = _hex_int(r, "balance")
        return out

    def token_balances(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        self._connect()
        calls = [("eth_call", [{"to": token, "data": "0x70a08231" + "0" * 24 + address[2:]}, "latest"])
                 for address, token in pairs]
        out = {}
        for pair, r in zip(pairs, self.client.batch(calls)):
            out[pair] = int(r[2:66] or "0", 16) if isinstance(r, str) and r.startswith("0x") and len(r) >= 66 else -1
        return out

    def transactions(self, tx_hashes: list[str]) -> Iterator[tuple[str, dict | None]]:
        self._connect()
        results = self.client.batch([("eth_getTransactionByHash", [h]) for h in tx_hashes])
        for h, r in zip(tx_hashes, results):
            if isinstance(r, RpcError):
                raise self._fail("eth_getTransactionByHash", r)
            yield h, r if isinstance(r, dict) else None

    def logs(self, address: str, topic0: str, start: int, end: int) -> list[dict]:
        self._connect()

        def query(a: int, b: int) -> list:
            result = self.client.call("eth_getLogs", [{"fromBlock": hex(a), "toBlock": hex(b), "address": address,
                                                       "topics": [topic0]}])
            if not isinstance(result, list):
                raise MalformedResponseError(f"node {self.client.display} eth_getLogs: expected a list")
            return result

        entries = []
        seen: set[str] = set()
        for e in self._ranged("eth_getLogs", start, end, query):
            if not isinstance(e, dict):
                continue
            if _readable_block(e.get("blockNumber")) is None:
                self._reject(LOGS, address.lower(), _readable_hash(e.get("transactionHash")), None,
                             "log without a readable blockNumber", e, seen)
                continue
            entries.append(e)
        self._load_timestamps({_hex_int(e.get("blockNumber"), "block") for e in entries}, entries)
        for e in entries:
            e.setdefault("timeStamp", hex(self._timestamps[_hex_int(e.get("blockNumber"), "block")]))
        return entries

    # ---- histories ------------------------------------------------------------------------
    def fetch(self, tasks: list[FetchTask]) -> Iterator[tuple[FetchTask, list[Transfer]]]:
        self._connect()
        by_action: dict[str, list[FetchTask]] = defaultdict(list)
        for task in tasks:
            by_action[task.action].append(task)
        for action, group in by_action.items():
            fetcher = {LOGS: self._logs, TRACES: self._traces, BLOCKS: self._blocks}.get(action)
            if fetcher is None:
                raise SourceError(f"the node source cannot fetch {action!r}")
            group.sort(key=lambda t: (t.start, t.end, t.address))
            for i in range(0, len(group), self.chunk_size):
                chunk = group[i: i + self.chunk_size]
                addresses = sorted({t.address for t in chunk})
                lo, hi = min(t.start for t in chunk), max(t.end for t in chunk)
                transfers = fetcher(addresses, lo, hi)
                yield from group_by_task(transfers, chunk).items()

    def _ranged(self, method: str, lo: int, hi: int, query: Callable[[int, int], list]) -> list:
        """query(a, b) over [lo, hi], splitting the range wherever the provider refuses it."""
        out: list = []
        cursor = lo
        while cursor <= hi:
            span = self._span[method] or (hi - lo + 1)
            end = min(hi, cursor + span - 1)
            try:
                out.extend(query(cursor, end))
                cursor = end + 1
            except RpcError as err:
                if not is_range_limit(err):
                    raise self._fail(method, err) from None
                suggested = suggested_range(err)
                limit = max_span(err)
                if suggested and suggested[0] == cursor and cursor <= suggested[1] < end:
                    new_span = suggested[1] - cursor + 1
                elif limit and limit < end - cursor + 1:
                    new_span = limit
                else:
                    new_span = (end - cursor + 1) // 2
                if new_span < 1:
                    raise SourceError(
                        f"node {self.client.display} refuses {method} even for a single block: {err}"
                    ) from None
                self._span[method] = new_span
        return out

    def _fail(self, method: str, err: RpcError) -> SourceError:
        text = err.message.lower()
        if any(h in text for h in _ARCHIVE_HINTS):
            return SourceError(
                f"node {self.client.display} has no archive state for these blocks ({err.message[:80]}); "
                "use an archive node or an explorer"
            )
        return SourceError(f"node {self.client.display} {method} failed: {err}")

    # ERC-20 Transfer logs ---------------------------------------------------------------------
    def _logs(self, addresses: list[str], lo: int, hi: int) -> list[Transfer]:
        topics = [_topic(a) for a in addresses]
        wanted = set(addresses)
        raw: dict[tuple[str, int], tuple[dict, _Log]] = {}
        seen: set[str] = set()
        for position in (1, 2):  # sent by the frontier, received by it
            filt_topics: list = [TRANSFER_TOPIC, None, None]
            filt_topics[position] = topics

            def query(a: int, b: int, filt_topics=filt_topics) -> list:
                result = self.client.call("eth_getLogs", [{"fromBlock": hex(a), "toBlock": hex(b),
                                                           "topics": filt_topics}])
                if not isinstance(result, list):
                    raise MalformedResponseError(f"node {self.client.display} eth_getLogs: expected a list")
                return result

            for entry in self._ranged("eth_getLogs", lo, hi, query):
                if not isinstance(entry, dict):
                    self._reject(LOGS, "", "", None, f"log is not a JSON object ({type(entry).__name__})", entry, seen)
                    continue
                if entry.get("removed"):
                    continue
                topics_ = entry.get("topics") or []
                if not isinstance(topics_, list) or len(topics_) != 3 or str(topics_[0]).lower() != TRANSFER_TOPIC:
                    continue  # ERC-721 (tokenId indexed) and other shapes are not fungible transfers
                log_ = self._check_log(entry, wanted, lo, hi, seen)
                if log_ is not None:
                    raw[(log_.tx_hash, log_.log_index)] = (entry, log_)
        entries = sorted(raw.values(), key=lambda item: (item[1].block, item[1].log_index))
        self._load_timestamps({lg.block for _, lg in entries}, [e for e, _ in entries])
        self._load_token_meta({lg.token for _, lg in entries})
        transfers = []
        for _, lg in entries:
            symbol, decimals = self._token_meta.get(lg.token, ("", 0))
            flags = set(token_flags(lg.token, symbol))
            if lg.amount == 0:
                flags.add(ZERO_VALUE)
            transfers.append(Transfer(
                tx_hash=lg.tx_hash, kind=ERC20, position="0", block=lg.block,
                timestamp=self._timestamps[lg.block], from_addr=lg.from_addr, to_addr=lg.to_addr,
                token=lg.token, asset=symbol, decimals=decimals, amount=lg.amount, flags=frozenset(flags),
                log_index=lg.log_index,
            ))
        return assign_positions(transfers)

    def _check_log(self, entry: dict, wanted: set[str], lo: int, hi: int, seen: set[str]) -> _Log | None:
        """A Transfer log's fields, or None after recording why it cannot be one of ours."""
        topics_ = entry["topics"]
        sides = [_topic_address(topics_[1]), _topic_address(topics_[2])]
        who = next((a for a in sides if a in wanted), "")
        tx_hash = _readable_hash(entry.get("transactionHash"))
        block = _readable_block(entry.get("blockNumber"))
        try:
            tx_hash, log_index = key_of(entry)
            block = _block(entry.get("blockNumber"))
            token = _addr(entry.get("address"), "log address")
            if sides[0] is None or sides[1] is None:
                raise MalformedResponseError("node answered a Transfer log whose topics are not addresses")
            data = entry.get("data") or "0x"
            if not isinstance(data, str) or not data.startswith("0x") or not _is_hex(data[2:]):
                raise MalformedResponseError("node answered a log whose data is not hex")
            amount = int(data[2:66], 16) if len(data) >= 66 else 0
            if not 0 <= log_index <= 2**31 - 1:
                raise MalformedResponseError("node answered a log index out of bounds")
        except MalformedResponseError as exc:
            self._reject(LOGS, who, tx_hash, block, _problem(exc), entry, seen)
            return None
        if not lo <= block <= hi:
            self._reject(LOGS, who, tx_hash, block, f"block {block} is outside the blocks asked for ({lo}..{hi})",
                         entry, seen)
            return None
        if not who:
            self._reject(LOGS, "", tx_hash, block, "neither side is an address asked for", entry, seen)
            return None
        return _Log(tx_hash, log_index, block, token, sides[0], sides[1], amount)

    def _load_timestamps(self, blocks: set[int], entries: list[dict]) -> None:
        for e in entries:  # newer nodes put it on the log itself (an unreadable one: ask for the block)
            if e.get("blockTimestamp") is not None:
                try:
                    block, stamp = _hex_int(e["blockNumber"], "block"), _hex_int(e["blockTimestamp"], "timestamp")
                except MalformedResponseError:
                    continue
                if 0 <= stamp <= MAX_TIMESTAMP:
                    self._timestamps[block] = stamp
        missing = sorted(b for b in blocks if b not in self._timestamps)
        results = self.client.batch([("eth_getBlockByNumber", [hex(b), False]) for b in missing])
        for b, block in zip(missing, results):
            if isinstance(block, RpcError):
                raise self._fail("eth_getBlockByNumber", block)
            if not isinstance(block, dict):
                raise MalformedResponseError(f"node {self.client.display} has no block {b}")
            self._timestamps[b] = _hex_int(block.get("timestamp"), "timestamp")

    def _load_token_meta(self, tokens: set[str]) -> None:
        """Symbol and decimals: from the registry, else from the contract (untrusted text)."""
        unknown = []
        for token in tokens:
            registered = lookup(token)
            if registered:
                self._token_meta[token] = (registered.symbol, registered.decimals)
            elif token not in self._token_meta:
                unknown.append(token)
        calls = []
        for token in unknown:
            calls.append(("eth_call", [{"to": token, "data": "0x95d89b41"}, "latest"]))  # symbol()
            calls.append(("eth_call", [{"to": token, "data": "0x313ce567"}, "latest"]))  # decimals()
        results = self.client.batch(calls)
        for i, token in enumerate(unknown):
            self._token_meta[token] = (_decode_symbol(results[2 * i]), _decode_decimals(results[2 * i + 1]))

    # native and internal ETH from traces --------------------------------------------------------
    def _traces(self, addresses: list[str], lo: int, hi: int) -> list[Transfer]:
        wanted = set(addresses)
        found: dict[tuple[str, tuple], tuple[dict, int]] = {}
        seen: set[str] = set()
        for side in ("fromAddress", "toAddress"):  # two queries: some nodes AND the two lists
            def query(a: int, b: int, side=side) -> list:
                page: list = []
                after = 0
                while True:
                    result = self.client.call("trace_filter", [{"fromBlock": hex(a), "toBlock": hex(b),
                                                                side: addresses, "after": after,
                                                                "count": self.trace_page}])
                    if not isinstance(result, list):
                        raise MalformedResponseError(f"node {self.client.display} trace_filter: expected a list")
                    page.extend(result)
                    if len(result) < self.trace_page:
                        return page
                    after += self.trace_page

            for tr in self._ranged("trace_filter", lo, hi, query):
                if not isinstance(tr, dict):
                    self._reject(TRACES, "", "", None, f"trace is not a JSON object ({type(tr).__name__})", tr, seen)
                    continue
                who = _trace_party(tr, wanted)
                path = tr.get("traceAddress") or []
                try:
                    if not isinstance(path, list):
                        raise MalformedResponseError("node answered a malformed traceAddress")
                    tx_hash = _tx_hash(tr.get("transactionHash"))
                    block = _block(tr.get("blockNumber"))
                except MalformedResponseError as exc:
                    self._reject(TRACES, who, _readable_hash(tr.get("transactionHash")),
                                 _readable_block(tr.get("blockNumber")), _problem(exc), tr, seen)
                    continue
                found[(tx_hash, tuple(str(p) for p in path))] = (tr, block)
        candidates = []
        for (tx_hash, trace_address), (tr, block) in sorted(found.items(), key=lambda kv: (kv[1][1], kv[0])):
            try:
                moved = _value_moved(tr)
            except MalformedResponseError as exc:
                self._reject(TRACES, _trace_party(tr, wanted), tx_hash, block, _problem(exc))
                continue
            if moved is None or tr.get("error"):
                continue
            src, dst, amount = moved
            if not lo <= block <= hi:
                self._reject(TRACES, _trace_party(tr, wanted), tx_hash, block,
                             f"block {block} is outside the blocks asked for ({lo}..{hi})")
                continue
            if src not in wanted and dst not in wanted:
                self._reject(TRACES, "", tx_hash, block, "neither side is an address asked for")
                continue
            memo = memo_from_input(tr["action"].get("input")) if not trace_address else None
            candidates.append((tx_hash, trace_address, block, src, dst, amount, memo))
        # A top-level call without an error is the transaction itself succeeding; only a nested call
        # needs the receipt, since a later revert of its transaction undoes it.
        ok = {c[0] for c in candidates if not c[1]} | self._succeeded({c[0] for c in candidates if c[1]})
        blocks = {c[2] for c in candidates}
        self._load_timestamps(blocks, [])
        transfers = [
            Transfer(tx_hash=tx, kind=NATIVE if not path else INTERNAL, position="0", block=block,
                     timestamp=self._timestamps[block], from_addr=src, to_addr=dst, token=ETH, asset=ETH,
                     decimals=18, amount=amount, memo=memo)
            for tx, path, block, src, dst, amount, memo in candidates if tx in ok
        ]
        return assign_positions(transfers)

    def _succeeded(self, tx_hashes: set[str]) -> set[str]:
        """Which transactions did not revert (a reverted transaction moved nothing)."""
        ordered = sorted(tx_hashes)
        receipts = self.client.batch([("eth_getTransactionReceipt", [h]) for h in ordered])
        ok = set()
        for h, r in zip(ordered, receipts):
            if isinstance(r, RpcError):
                raise self._fail("eth_getTransactionReceipt", r)
            if isinstance(r, dict) and _hex_int(r.get("status", "0x1"), "status") == 1:
                ok.add(h)
        return ok

    # native ETH by scanning blocks -------------------------------------------------------------
    def _blocks(self, addresses: list[str], lo: int, hi: int) -> list[Transfer]:
        if not self._warned_blocks:
            self._warn(
                f"node {self.client.display} has no trace_filter: native ETH is found by scanning blocks, "
                "and internal ETH transfers (contract to account) are NOT visible; add an explorer "
                "(--explorer-url or ETHERSCAN_API_KEY) or use a tracing node (Erigon, Reth, Nethermind, Besu)"
            )
            self._warned_blocks = True
        wanted = set(addresses)
        candidates = []
        numbers = list(range(lo, hi + 1))
        for i in range(0, len(numbers), self.client.batch_size):
            part = numbers[i: i + self.client.batch_size]
            blocks = self.client.batch([("eth_getBlockByNumber", [hex(n), True]) for n in part])
            for n, block in zip(part, blocks):
                if isinstance(block, RpcError):
                    raise self._fail("eth_getBlockByNumber", block)
                if block is None:
                    continue
                self._timestamps[n] = _hex_int(block.get("timestamp"), "timestamp")
                for tx in block.get("transactions") or []:
                    if not isinstance(tx, dict):
                        continue  # a block lists everyone's transactions: only ours are records of ours
                    src = str(tx.get("from") or "").lower()
                    dst = str(tx.get("to") or "").lower()
                    if src not in wanted and dst not in wanted:
                        continue
                    try:
                        tx_hash = _tx_hash(tx.get("hash"))
                        value = _amount(tx.get("value", "0x0"), "value")
                        _addr(src, "transaction sender")
                        if dst:
                            _addr(dst, "transaction recipient")
                    except MalformedResponseError as exc:
                        self._reject(BLOCKS, src if src in wanted else dst, _readable_hash(tx.get("hash")), n,
                                     _problem(exc))
                        continue
                    if value > 0 and dst:
                        candidates.append((tx_hash, n, src, dst, value, memo_from_input(tx.get("input"))))
        ok = self._succeeded({c[0] for c in candidates})
        return [
            Transfer(tx_hash=h, kind=NATIVE, position="0", block=n, timestamp=self._timestamps[n],
                     from_addr=src, to_addr=dst, token=ETH, asset=ETH, decimals=18, amount=value, memo=memo)
            for h, n, src, dst, value, memo in candidates if h in ok
        ]


def key_of(entry: dict) -> tuple[str, int]:
    """A log's identity on chain: (transaction hash, log index)."""
    tx_hash = str(entry.get("transactionHash", "")).lower()
    if len(tx_hash) != 66 or not tx_hash.startswith("0x"):
        raise MalformedResponseError(f"node answered a log with a malformed transaction hash: {tx_hash[:70]!r}")
    return tx_hash, _hex_int(entry.get("logIndex"), "log index")


def _value_moved(tr: dict) -> tuple[str, str, int] | None:
    """(from, to, wei) for a trace that moves ETH, else None."""
    action = tr.get("action") or {}
    if not isinstance(action, dict):
        raise MalformedResponseError("node answered a trace whose action is not an object")
    kind = tr.get("type")
    if kind == "call":
        if action.get("callType", "call") not in ("call",):
            return None  # delegatecall / staticcall / callcode move no value between accounts
        value = _amount(action.get("value", "0x0"), "value")
        if value <= 0:
            return None
        return _addr(action.get("from"), "trace from"), _addr(action.get("to"), "trace to"), value
    if kind == "create":
        value = _amount(action.get("value", "0x0"), "value")
        result = tr.get("result") or {}
        if not isinstance(result, dict):
            raise MalformedResponseError("node answered a trace whose result is not an object")
        if value <= 0 or not result.get("address"):
            return None
        return _addr(action.get("from"), "trace from"), _addr(result.get("address"), "created address"), value
    if kind in ("suicide", "selfdestruct"):
        value = _amount(action.get("balance", "0x0"), "balance")
        if value <= 0:
            return None
        return _addr(action.get("address"), "trace address"), _addr(action.get("refundAddress"), "refund"), value
    return None


def _decode_symbol(result) -> str:
    if isinstance(result, RpcError) or not isinstance(result, str) or len(result) < 4:
        return ""
    raw = bytes.fromhex(result[2:]) if all(c in "0123456789abcdefABCDEF" for c in result[2:]) else b""
    try:
        return str(decode(["string"], raw)[0])[:64]
    except Exception:
        # bytes32 symbols (old tokens such as MKR)
        return raw[:32].rstrip(b"\x00").decode("utf-8", "replace")[:64] if len(raw) == 32 else ""


def _decode_decimals(result) -> int:
    if isinstance(result, RpcError) or not isinstance(result, str) or len(result) < 4:
        return 0
    try:
        value = int(result, 16)
    except ValueError:
        return 0
    return value if value <= 255 else 0


@dataclass(frozen=True, slots=True)
class _Log:
    """A checked ERC-20 Transfer log."""

    tx_hash: str
    log_index: int
    block: int
    token: str
    from_addr: str
    to_addr: str
    amount: int


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _topic_address(topic) -> str | None:
    """The address an indexed address topic holds (32 bytes, the first 12 zero), else None."""
    text = str(topic or "").lower() if isinstance(topic, str) else ""
    if not _HEX_WORD.fullmatch(text) or text[2:26] != "0" * 24:
        return None
    return "0x" + text[26:]


def _trace_party(tr: dict, wanted: set[str]) -> str:
    """Best effort: which queried address a trace is about ("" if none can be read)."""
    action = tr.get("action") if isinstance(tr.get("action"), dict) else {}
    result = tr.get("result") if isinstance(tr.get("result"), dict) else {}
    for value in (action.get("from"), action.get("to"), action.get("address"), action.get("refundAddress"),
                  result.get("address")):
        if isinstance(value, str) and value.lower() in wanted:
            return value.lower()
    return ""
