"""A node for what it answers well, an explorer for what it cannot.

Chosen when both are configured and the node has no trace_filter: token
transfers come from the node's logs, native and internal ETH from the
explorer's per-address lists (a block scan would miss internal ETH).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..models import Transfer
from ..records import RejectedRecord
from .base import FetchTask
from .explorer import ExplorerClient
from .node import LOGS, NodeSource

EXPLORER_ETH_ACTIONS = ("txlist", "txlistinternal")


class CombinedSource:
    def __init__(self, node: NodeSource, explorer: ExplorerClient):
        self.node = node
        self.explorer = explorer
        self.name = f"{node.name}+{explorer.name}"

    @property
    def actions(self) -> tuple[str, ...]:
        return self.node.actions if self.node.has_traces else (LOGS, *EXPLORER_ETH_ACTIONS)

    @property
    def requests(self) -> int:
        return self.node.requests + self.explorer.requests

    @property
    def rate_limited(self) -> int:
        return self.node.rate_limited + self.explorer.rate_limited

    @property
    def rejected(self) -> list[RejectedRecord]:
        """Malformed or out-of-range records both halves skipped (node first, then explorer)."""
        return [*list(self.node.rejected), *list(self.explorer.rejected)]

    def head_block(self) -> int:
        return self.node.head_block()

    @property
    def dialect_name(self) -> str:
        return self.explorer.dialect_name

    def take_incomplete(self, address: str) -> set[str]:
        """Native and internal ETH come from the explorer, which may not have indexed them all yet."""
        return self.explorer.take_incomplete(address)

    def codes(self, addresses: list[str]) -> Iterator[tuple[str, str]]:
        return self.node.codes(addresses)

    def receipts(self, tx_hashes: list[str]) -> Iterator[tuple[str, dict | None]]:
        return self.node.receipts(tx_hashes)

    def balances(self, addresses):
        return self.node.balances([a for a in addresses if ":" not in a])

    def token_balances(self, pairs):
        return self.node.token_balances([p for p in pairs if ":" not in p[0]])

    def transactions(self, tx_hashes: list[str]) -> Iterator[tuple[str, dict | None]]:
        return self.node.transactions(tx_hashes)

    def logs(self, address: str, topic0: str, start: int, end: int) -> list[dict]:
        return self.node.logs(address, topic0, start, end)

    def fetch(self, tasks: list[FetchTask]) -> Iterator[tuple[FetchTask, list[Transfer]]]:
        to_explorer = [t for t in tasks if t.action in EXPLORER_ETH_ACTIONS]
        to_node = [t for t in tasks if t.action not in EXPLORER_ETH_ACTIONS]
        yield from self.node.fetch(to_node)
        yield from self.explorer.fetch(to_explorer)

    def close(self) -> None:
        self.node.close()
        self.explorer.close()
