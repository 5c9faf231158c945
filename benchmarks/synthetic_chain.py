"""Lays a layered laundering graph on anvil in bulk (benchmarks; the tests use tests/scenario.py).

Layer widths give the frontier sizes a trace meets hop by hop (e.g. 10, 100,
1,000); every layer forwards both ETH and stETH (at its real address) to the
next, and the last layers also spread many transfers over leaf addresses,
so the chain holds a chosen number of transfers. Transactions are sent in
JSON-RPC batches with mining paused, then mined as blocks with February 2025
timestamps (one request per transfer with automine manages ~90/s; this ~3,000/s).
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from anvil import Anvil  # noqa: E402
from scenario import STETH, START_TIME, artifact, calldata  # noqa: E402

ETHER = 10**18
GAS_PRICE = 10**9


@dataclass
class Layered:
    seed: str
    layers: list[list[str]]
    leaves: list[str]
    transfers: int = 0
    addresses: set[str] = field(default_factory=set)


class BulkSender:
    def __init__(self, node: Anvil):
        self.node = node
        self.nonces: dict[str, int] = {}
        self.pending: list[tuple[str, list]] = []
        self.time = START_TIME

    def send(self, src: str, to: str, value: int = 0, data: str = "0x", gas: int = 21_000) -> None:
        nonce = self.nonces.get(src, 0)
        self.nonces[src] = nonce + 1
        self.pending.append(("eth_sendTransaction", [{"from": src, "to": to, "value": hex(value), "data": data,
                                                       "gas": hex(gas), "gasPrice": hex(GAS_PRICE), "nonce": hex(nonce)}]))

    def mine(self) -> None:
        """Send what is pending, ~1,000 transactions a block, each block a minute apart."""
        per_block = 1000
        for i in range(0, len(self.pending), per_block):
            part = self.pending[i: i + per_block]
            for j in range(0, len(part), 500):
                self.node.batch(part[j: j + 500])
            self.time += 60
            self.node.rpc("evm_mine", {"timestamp": self.time})
        self.pending.clear()


def lay(node: Anvil, widths=(10, 10, 10), target_transfers: int = 10_000, target_addresses: int = 2_000,
        seed_text: str = "bench") -> Layered:
    rng = random.Random(seed_text)

    def new_addr() -> str:
        return "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40))

    seed = new_addr()
    node.rpc("anvil_setBalance", seed, hex(10**9 * ETHER))
    node.rpc("anvil_setCode", STETH, artifact("ScenarioToken")["deployedBytecode"])
    bulk = BulkSender(node)
    bulk.send(seed, STETH, data=calldata("mint(address,uint256)", ["address", "uint256"], [seed, 10**9 * ETHER]),
              gas=200_000)
    bulk.mine()
    out = Layered(seed=seed, layers=[], leaves=[])
    out.addresses.add(seed)
    parents = [seed]
    eth, tok = 10**7 * ETHER, 10**7 * ETHER
    for width in widths:
        layer = []
        eth //= width + 1
        tok //= width + 1
        for p in parents:
            for _ in range(width):
                child = new_addr()
                layer.append(child)
                bulk.send(p, child, eth)
                bulk.send(p, STETH, data=calldata("transfer(address,uint256)", ["address", "uint256"], [child, tok]),
                          gas=60_000)
                out.transfers += 2
        bulk.mine()
        out.layers.append(layer)
        out.addresses.update(layer)
        parents = layer
    # spread the rest over leaves, from the last layer
    n_leaves = max(1, target_addresses - len(out.addresses))
    out.leaves = [new_addr() for _ in range(n_leaves)]
    out.addresses.update(out.leaves)
    remaining = max(0, target_transfers - out.transfers)
    for i in range(remaining):
        src = parents[i % len(parents)]
        dst = out.leaves[rng.randrange(n_leaves)]
        if i % 2:
            bulk.send(src, dst, eth // 100)
        else:
            bulk.send(src, STETH, data=calldata("transfer(address,uint256)", ["address", "uint256"], [dst, tok // 100]),
                      gas=60_000)
        out.transfers += 1
    bulk.mine()
    return out
