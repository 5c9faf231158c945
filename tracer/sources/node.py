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
from collections import defaultdict
from collections.abc import Callable, Iterator

from eth_abi import decode

from ..errors import MalformedResponseError, SourceError
from ..models import ERC20, ETH, INTERNAL, NATIVE, ZERO_VALUE, Transfer, memo_from_input
from ..records import assign_positions
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


def _addr(value, what: str) -> str:
    text = str(value or "").lower()
    if len(text) != 42 or not text.startswith("0x"):
        raise MalformedResponseError(f"node answered a malformed {what}: {text[:50]!r}")
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

        entries = [e for e in self._ranged("eth_getLogs", start, end, query) if isinstance(e, dict)]
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
        raw: dict[tuple[str, int], dict] = {}
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
                if not isinstance(entry, dict) or entry.get("removed"):
                    continue
                topics_ = entry.get("topics") or []
                if len(topics_) != 3 or str(topics_[0]).lower() != TRANSFER_TOPIC:
                    continue  # ERC-721 (tokenId indexed) and other shapes are not fungible transfers
                raw[key_of(entry)] = entry
        entries = sorted(raw.values(), key=lambda e: (_hex_int(e.get("blockNumber"), "block"), key_of(e)[1]))
        self._load_timestamps({_hex_int(e.get("blockNumber"), "block") for e in entries}, entries)
        self._load_token_meta({_addr(e.get("address"), "log address") for e in entries})
        transfers = []
        for e in entries:
            token = _addr(e.get("address"), "log address")
            data = str(e.get("data") or "0x")
            try:
                amount = int(data[2:66] or "0", 16) if len(data) >= 66 else 0
            except ValueError:
                raise MalformedResponseError(f"node {self.client.display} log data is not hex") from None
            symbol, decimals = self._token_meta.get(token, ("", 0))
            flags = set(token_flags(token, symbol))
            if amount == 0:
                flags.add(ZERO_VALUE)
            block = _hex_int(e.get("blockNumber"), "block")
            tx_hash, log_index = key_of(e)
            transfers.append(Transfer(
                tx_hash=tx_hash, kind=ERC20, position="0", block=block,
                timestamp=self._timestamps[block],
                from_addr="0x" + str(e["topics"][1])[-40:].lower(), to_addr="0x" + str(e["topics"][2])[-40:].lower(),
                token=token, asset=symbol, decimals=decimals, amount=amount, flags=frozenset(flags),
                log_index=log_index,
            ))
        return assign_positions(transfers)

    def _load_timestamps(self, blocks: set[int], entries: list[dict]) -> None:
        for e in entries:  # newer nodes put it on the log itself
            if e.get("blockTimestamp") is not None:
                self._timestamps[_hex_int(e["blockNumber"], "block")] = _hex_int(e["blockTimestamp"], "timestamp")
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
        found: dict[tuple[str, tuple], dict] = {}
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
                    raise MalformedResponseError(f"node {self.client.display} trace_filter: a trace is not an object")
                path = tr.get("traceAddress") or []
                if not isinstance(path, list):
                    raise MalformedResponseError(f"node {self.client.display} trace_filter: malformed traceAddress")
                key = (str(tr.get("transactionHash", "")).lower(), tuple(str(p) for p in path))
                found[key] = tr
        candidates = []
        for (tx_hash, trace_address), tr in sorted(found.items(), key=lambda kv: (_hex_int(kv[1].get("blockNumber"), "block"), kv[0])):
            moved = _value_moved(tr)
            if moved is None or tr.get("error"):
                continue
            src, dst, amount = moved
            memo = memo_from_input(tr["action"].get("input")) if not trace_address else None
            candidates.append((tx_hash, trace_address, _hex_int(tr.get("blockNumber"), "block"), src, dst, amount,
                               memo))
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
                    src = str(tx.get("from") or "").lower()
                    dst = str(tx.get("to") or "").lower()
                    value = _hex_int(tx.get("value", "0x0"), "value")
                    if value and dst and (src in wanted or dst in wanted):
                        candidates.append((str(tx["hash"]).lower(), n, src, dst, value,
                                           memo_from_input(tx.get("input"))))
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
        value = _hex_int(action.get("value", "0x0"), "value")
        if value <= 0:
            return None
        return _addr(action.get("from"), "trace from"), _addr(action.get("to"), "trace to"), value
    if kind == "create":
        value = _hex_int(action.get("value", "0x0"), "value")
        result = tr.get("result") or {}
        if not isinstance(result, dict):
            raise MalformedResponseError("node answered a trace whose result is not an object")
        if value <= 0 or not result.get("address"):
            return None
        return _addr(action.get("from"), "trace from"), _addr(result.get("address"), "created address"), value
    if kind in ("suicide", "selfdestruct"):
        value = _hex_int(action.get("balance", "0x0"), "balance")
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
