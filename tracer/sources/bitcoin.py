"""A source that reads `btc:<address>` nodes from an Esplora API and everything else from the source it wraps.

The tracer plans Bitcoin like any chain: one history ("btc-txs") per address, a cursor over block heights,
the tip as the head. A task is answered with the edges (tracer.btc) of the address's confirmed transactions
in its height range, read newest first through /txs/chain down to the range's start.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..btc import transfers_of
from ..models import Transfer
from .base import FetchTask
from .esplora import EsploraClient, IncompleteHistory

BTC_ACTION = "btc-txs"


class BitcoinSource:
    def __init__(self, home, esplora: EsploraClient, warn=lambda message: None):
        self.home = home
        self.esplora = esplora
        self.name = home.name
        self._tip: int | None = None
        self._incomplete: set[str] = set()  # nodes whose history could not be read whole this run
        self._stats: dict = {}  # node -> its /address answer read by this hop's screen (before the tip)
        self._warn = warn

    def __getattr__(self, name):  # everything not Bitcoin's is the wrapped source's
        return getattr(self.home, name)

    @property
    def actions(self) -> tuple[str, ...]:
        return self.home.actions

    @property
    def requests(self) -> int:
        return self.home.requests + self.esplora.requests

    def usage(self) -> dict[str, int]:
        """Requests per service, kept apart: the explorer's daily quota is not the Esplora host's."""
        inner = getattr(self.home, "usage", None)
        usage = dict(inner() if inner else {self.home.name: self.home.requests})
        usage[self.esplora.service] = usage.get(self.esplora.service, 0) + self.esplora.requests
        return usage

    @property
    def rate_limited(self) -> int:
        return self.home.rate_limited + self.esplora.rate_limited

    @property
    def rejected(self):
        return list(getattr(self.home, "rejected", [])) + list(self.esplora.rejected)

    def actions_for(self, node: str) -> tuple[str, ...]:
        if node.startswith("btc:"):
            return (BTC_ACTION,)
        inner = getattr(self.home, "actions_for", None)
        return inner(node) if inner else self.home.actions

    def head_for(self, node: str) -> int | None:
        if node.startswith("btc:"):
            if self._tip is None:
                self._tip = self.esplora.tip_height()
            return self._tip
        inner = getattr(self.home, "head_for", None)
        return inner(node) if inner else None

    def balances(self, addresses):
        """ETH balances of this chain's addresses, and for each Bitcoin address the number of its confirmed
        transactions (one /address request): any movement, in or out, adds one, so an unchanged count means
        nothing to fetch — the screen's test, as a changed ETH balance is on Ethereum. Read before the tip the
        fetch runs to (the tip is read afresh after each hop's fetch)."""
        home = [a for a in addresses if ":" not in a]
        out = dict(self.home.balances(home)) if home else {}
        for a in addresses:
            if a.startswith("btc:"):
                self._stats[a] = stats = self.esplora.address(a[4:])  # the fetch's count too: read once
                out[a] = stats.tx_count
        return out

    def token_balances(self, pairs):
        return self.home.token_balances([p for p in pairs if ":" not in p[0]])

    def codes(self, addresses: list[str]) -> Iterator[tuple[str, str]]:
        others = [a for a in addresses if not a.startswith("btc:")]
        if others:
            yield from self.home.codes(others)
        for a in addresses:
            if a.startswith("btc:"):
                yield a, "0x"  # an address, never a contract: what it does is in its transactions

    def fetch(self, tasks: list[FetchTask]) -> Iterator[tuple[FetchTask, list[Transfer]]]:
        others = [t for t in tasks if not t.address.startswith("btc:")]
        if others:
            yield from self.home.fetch(others)
        by_address: dict[str, list[FetchTask]] = {}
        for task in tasks:
            if task.address.startswith("btc:"):
                by_address.setdefault(task.address, []).append(task)
        for node, mine in by_address.items():
            # One pass over the history for all of an address's ranges (a reach earlier than what was read
            # before, and the new blocks): the pages run newest first, so the lowest start reads them all once.
            address = node[4:]
            tip = self.head_for(node)
            stats = self._stats.pop(node, None) or self.esplora.address(address)
            try:
                history = self.esplora.history(address, stats=stats, tip=tip, since=min(t.start for t in mine))
            except IncompleteHistory as exc:  # this address waits for the next run (its cursor stays); others go on
                self._incomplete.add(node)
                self._warn(str(exc))
                history = []
            for task in mine:
                found: list[Transfer] = []
                for tx in history:
                    if task.start <= tx.height <= task.end:
                        found.extend(transfers_of(tx))
                yield task, found
        self._tip = None  # the next hop plans up to a tip read after its own screen

    def take_incomplete(self, address: str) -> set[str]:
        if address.startswith("btc:"):
            if address in self._incomplete:
                self._incomplete.discard(address)
                return {BTC_ACTION}
            return set()
        take = getattr(self.home, "take_incomplete", None)
        return take(address) if take else set()

    def close(self) -> None:
        try:
            self.home.close()
        finally:
            self.esplora.close()

