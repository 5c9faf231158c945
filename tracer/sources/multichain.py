"""The home chain's source plus explorers for other EVM chains, for --follow-bridges.

Addresses on other chains travel through the tracer and the store as node
ids "<chain>:<0xaddress>" (e.g. base:0x…), so a wallet that exists on two
chains stays two nodes. This wrapper strips the prefix before asking that
chain's explorer (Etherscan V2 serves every chain from one URL by chainid)
and puts it back on every address in the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from ..chains import EVM_CHAIN_IDS, NATIVE_SYMBOL, split_node
from ..errors import SourceError
from ..models import ERC20, ETH, UNVERIFIED_TOKEN, Transfer
from ..records import RejectedRecord
from .base import FetchTask
from .explorer import ACTIONS, ExplorerClient


class _Unserved(Exception):
    """No explorer serves this chain for us: its nodes are left for a later run."""


class OneChainOnly(SourceError):
    """The configured explorer serves its own chain only (a per-instance Blockscout ignores chain ids): another
    chain's addresses asked there would come back with this chain's history."""


class MultiChainSource:
    """Etherscan's free tier serves only some chains ("Free API access is not supported for this chain": BNB,
    Base, OP, Avalanche): a chain it refuses is followed on that chain's Blockscout instance (`fallbacks`),
    or, where none is known, left unfollowed with one warning; the trace goes on either way."""

    def __init__(self, home, make_explorer: Callable[[int], ExplorerClient],
                 fallbacks: dict[str, str] | None = None,
                 make_fallback: Callable[[str, int], ExplorerClient] | None = None,
                 warn: Callable[[str], None] = lambda message: None):
        self.home = home
        self.name = home.name
        self._make = make_explorer
        self._foreign: dict[str, ExplorerClient] = {}
        self._heads: dict[str, int] = {}
        self._fallbacks = fallbacks or {}
        self._make_fallback = make_fallback
        self._warn = warn
        self._unserved: dict[str, str] = {}  # chain -> why no explorer serves it
        self._skipped: set[str] = set()  # nodes left unfetched: their cursors must not move
        self._retired_requests = 0  # requests of explorers replaced by a fallback

    # delegation to the home source
    @property
    def actions(self) -> tuple[str, ...]:
        return self.home.actions

    @property
    def requests(self) -> int:
        return self.home.requests + sum(e.requests for e in self._foreign.values()) + self._retired_requests

    @property
    def rate_limited(self) -> int:
        return self.home.rate_limited + sum(e.rate_limited for e in self._foreign.values())

    @property
    def rejected(self) -> list[RejectedRecord]:
        """The home source's rejects, then each other chain's, addresses as that chain's node ids."""
        out = list(getattr(self.home, "rejected", []))
        for chain, explorer in list(self._foreign.items()):
            out.extend(replace(r, address=f"{chain}:{r.address}" if r.address else "")
                       for r in list(explorer.rejected))
        return out

    def head_block(self) -> int:
        return self.home.head_block()

    @property
    def dialect_name(self) -> str | None:
        return getattr(self.home, "dialect_name", None)

    def take_incomplete(self, address: str) -> set[str]:
        """Actions whose answers were not fully indexed yet (see ExplorerClient.take_incomplete)."""
        if address in self._skipped:
            self._skipped.discard(address)
            return set(ACTIONS)
        if ":" in address:
            chain, _, plain = address.partition(":")
            explorer = self._foreign.get(chain)
            return explorer.take_incomplete(plain) if explorer else set()
        take = getattr(self.home, "take_incomplete", None)
        return take(address) if take else set()

    def receipts(self, tx_hashes):
        return self.home.receipts(tx_hashes)

    def balances(self, addresses):
        return self.home.balances([a for a in addresses if ":" not in a])

    def token_balances(self, pairs):
        return self.home.token_balances([p for p in pairs if ":" not in p[0]])

    def transactions(self, tx_hashes):
        return self.home.transactions(tx_hashes)

    def logs(self, address, topic0, start, end):
        return self.home.logs(address, topic0, start, end)

    # other chains
    def explorer(self, chain: str) -> ExplorerClient:
        from ..chains import EVM_CHAIN_IDS

        if chain not in self._foreign:
            self._foreign[chain] = self._make(EVM_CHAIN_IDS[chain])
        return self._foreign[chain]

    def actions_for(self, node: str) -> tuple[str, ...]:
        return ACTIONS if ":" in node else self.home.actions

    def head_for(self, node: str) -> int | None:
        chain, _ = split_node(node)
        if ":" not in node:
            return None
        if chain not in self._heads:
            try:
                self._heads[chain] = self._ask(chain, lambda e: e.head_block())
            except _Unserved:
                return None
        return self._heads[chain]

    def block_at(self, chain: str, timestamp: int) -> int:
        try:
            return self._ask(chain, lambda e: e.block_at(timestamp))
        except _Unserved:
            return 0  # never fetched this run; a later run (with an explorer for it) reads from its start

    def _ask(self, chain: str, call):
        """call(explorer of chain), moving to the chain's Blockscout when Etherscan's tier refuses the chain."""
        if chain in self._unserved:
            raise _Unserved(self._unserved[chain])
        why = "the explorer's plan does not serve"
        try:
            return call(self.explorer(chain))
        except OneChainOnly:
            why = "the explorer serves one chain only (a Blockscout instance); it does not serve"
        except SourceError as exc:
            if "not supported for this chain" not in str(exc).lower():
                raise
            refused = self._foreign.pop(chain)
            self._retired_requests += refused.requests
            refused.close()
        url = self._fallbacks.get(chain)
        if url and self._make_fallback:
            self._warn(f"{why} {chain}; following it on {url.split('/')[2]} (Blockscout) instead")
            self._foreign[chain] = self._make_fallback(url, EVM_CHAIN_IDS[chain])
            return call(self._foreign[chain])
        why = (f"cannot follow {chain}: {why} it and no Blockscout instance is known "
               f"for it (--chain-explorer {chain}=URL names one); those addresses are kept for a later run")
        self._unserved[chain] = why
        self._warn(why)
        raise _Unserved(why)

    def codes(self, addresses: list[str]) -> Iterator[tuple[str, str]]:
        home = [a for a in addresses if ":" not in a]
        if home:
            yield from self.home.codes(home)
        for node in (a for a in addresses if ":" in a):
            chain, address = split_node(node)
            try:
                yield node, self._ask(chain, lambda e: e.get_code(address))
            except _Unserved:
                continue  # code unknown: the node keeps the code-unchecked flag

    def fetch(self, tasks: list[FetchTask]) -> Iterator[tuple[FetchTask, list[Transfer]]]:
        home = [t for t in tasks if ":" not in t.address]
        if home:
            yield from self.home.fetch(home)
        for task in (t for t in tasks if ":" in t.address):
            chain, address = split_node(task.address)
            try:
                found = self._ask(chain, lambda e: e.fetch_range(task.action, address, task.start, task.end))
            except _Unserved:
                self._skipped.add(task.address)  # its cursors stay where they were
                found = []
            yield task, [_on_chain(t, chain) for t in found]

    def close(self) -> None:
        self.home.close()
        for e in self._foreign.values():
            e.close()


def _on_chain(t: Transfer, chain: str) -> Transfer:
    """A transfer seen on another chain, its addresses as that chain's node ids.

    The token registry lists Ethereum contracts only, so a token elsewhere is
    unverified whatever it calls itself; the native coin is ETH on rollups,
    BNB/POL/AVAX/XDAI elsewhere (a class of its own for taint and thresholds).
    """
    if t.kind == ERC20:
        token, flags = f"{chain}:{t.token}", t.flags | {UNVERIFIED_TOKEN}
    elif chain in NATIVE_SYMBOL:
        token, flags = f"{chain}:native", t.flags
    else:
        token, flags = ETH, t.flags
    asset = NATIVE_SYMBOL.get(chain, t.asset) if t.kind != ERC20 else t.asset
    return replace(t, from_addr=f"{chain}:{t.from_addr}", to_addr=f"{chain}:{t.to_addr}", token=token, asset=asset,
                   flags=frozenset(flags))
