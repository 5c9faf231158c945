"""A seeded, reproducible synthetic theft, as Etherscan-shaped records (benchmarks).

Shape, from what the Bybit laundering looked like: a seed fans out in equal
round amounts layer by layer (`widths`), some wallets peel small amounts off
along chains, several branches consolidate into collector wallets, a share of
wallets goes dormant holding their funds, and every traced wallet attracts
address-poisoning spam (counterfeit-token events to look-alike addresses).
Filler transfers (repeated payments along the same edges) bring the total to
`transfers`. Tokens (stETH at its real address) move in the first layers only
and are forwarded in full, as launderers swap them early.

    from synthetic import Params, generate
    theft = generate(Params(widths=(10, 10, 20), transfers=30_000))
    theft.chain  # an explorer_server.Chain
"""

from __future__ import annotations

import hashlib
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from explorer_server import Chain  # noqa: E402

STETH = "0xae7ab96520de3a18e5e111b5eaab095312d7fe84"
COUNTERFEIT = "0x" + "c0" * 20
ETHER = 10**18
START_BLOCK = 21_895_300
START_TIME = 1_740_148_187


@dataclass(frozen=True)
class Params:
    widths: tuple[int, ...] = (10, 10, 20)  # fan-out per layer: frontiers of 10, 100, 2,000
    peel_chains: int = 10  # chains of small peels hanging off layer-1 wallets
    peel_length: int = 5
    consolidations: int = 20  # collector wallets each gathering from `consolidate_from` last-layer wallets
    consolidate_from: int = 5
    spam_ratio: float = 0.2  # poisoning rows per traced transfer
    dormant_ratio: float = 0.3  # last-layer wallets that keep their funds
    token_layers: int = 2  # layers through which stETH moves as well as ETH
    transfers: int = 30_000  # total, filler included
    blocks_per_layer: int = 2_000
    seed: int = 2025


@dataclass
class Theft:
    params: Params
    seed_address: str
    layers: list[list[str]]
    chain: Chain
    addresses: set[str] = field(default_factory=set)
    transfers: int = 0
    next_block: int = 0
    _n: int = 0

    # ---- rows ----------------------------------------------------------------------------
    def _hash(self) -> str:
        self._n += 1
        return "0x" + hashlib.sha256(f"{self.params.seed}:{self._n}".encode()).hexdigest()

    def native(self, src: str, dst: str, value: int, block: int) -> None:
        self.chain.records["txlist"].append({
            "blockNumber": str(block), "timeStamp": str(START_TIME + (block - START_BLOCK) * 12), "hash": self._hash(),
            "from": src, "to": dst, "value": str(value), "isError": "0", "txreceipt_status": "1", "input": "0x",
            "contractAddress": "", "gasPrice": "1000000000"})
        self.transfers += 1

    def token(self, src: str, dst: str, value: int, block: int, contract: str = STETH, symbol: str = "stETH",
              sent_by_owner: bool = True) -> None:
        """A token transfer; the owner's own transfer() call also appears in its txlist, as on Etherscan
        (a poisoner's fake event does not: the victim sent nothing)."""
        tx_hash, stamp = self._hash(), str(START_TIME + (block - START_BLOCK) * 12)
        self.chain.records["tokentx"].append({
            "blockNumber": str(block), "timeStamp": stamp, "hash": tx_hash,
            "from": src, "to": dst, "value": str(value), "contractAddress": contract, "tokenSymbol": symbol,
            "tokenName": symbol, "tokenDecimal": "18"})
        if sent_by_owner:
            self.chain.records["txlist"].append({
                "blockNumber": str(block), "timeStamp": stamp, "hash": tx_hash, "from": src, "to": contract,
                "value": "0", "isError": "0", "txreceipt_status": "1", "input": "0xa9059cbb",
                "contractAddress": "", "gasPrice": "1000000000"})
        self.transfers += 1


def _address(rng: random.Random) -> str:
    return "0x" + "%040x" % rng.getrandbits(160)


def _lookalike(rng: random.Random, of: str) -> str:
    return of[:6] + "%032x" % rng.getrandbits(128) + of[-4:]


def generate(p: Params) -> Theft:
    rng = random.Random(p.seed)
    chain = Chain()
    seed = _address(rng)
    theft = Theft(p, seed, [], chain)
    theft.addresses.add(seed)
    block = START_BLOCK
    parents, eth, tok = [seed], 10**6 * ETHER, 10**5 * ETHER
    edges: list[tuple[str, str, int, int]] = []
    received_tok = 0  # what each wallet of the last token layer received
    for depth, width in enumerate(p.widths):
        layer = []
        eth, tok = eth // (width + 1), tok // (width + 1)
        for parent in parents:
            for _ in range(width):
                child = _address(rng)
                layer.append(child)
                b = block + rng.randrange(p.blocks_per_layer // 2)
                theft.native(parent, child, eth, b)
                edges.append((parent, child, eth, b))
                if depth < p.token_layers:
                    theft.token(parent, child, tok, b + 1)
                    received_tok = tok
        theft.layers.append(layer)
        theft.addresses.update(layer)
        parents = layer
        block += p.blocks_per_layer
    # stETH is forwarded in full where it stops: the last token layer swaps it away (to a DEX-like sink)
    sink = _address(rng)
    if p.token_layers and p.token_layers <= len(theft.layers):
        for holder in theft.layers[p.token_layers - 1]:
            theft.token(holder, sink, received_tok, block + rng.randrange(50))
    # peel chains from layer-1 wallets
    for i in range(min(p.peel_chains, len(theft.layers[0]))):
        src, amount = theft.layers[0][i], eth // 2
        for _ in range(p.peel_length):
            nxt, peel = _address(rng), _address(rng)
            b = block + rng.randrange(p.blocks_per_layer)
            theft.native(src, nxt, amount - amount // 20, b)
            theft.native(src, peel, amount // 20, b)
            theft.addresses.update((nxt, peel))
            src, amount = nxt, amount - amount // 20
    # consolidation and dormancy in the last layer
    last = theft.layers[-1]
    movers = [a for a in last if rng.random() >= p.dormant_ratio]
    for _ in range(p.consolidations):
        collector = _address(rng)
        theft.addresses.add(collector)
        for src in rng.sample(movers, min(p.consolidate_from, len(movers))):
            theft.native(src, collector, eth // 2, block + rng.randrange(p.blocks_per_layer))
    for src in movers:
        leaf = _address(rng)
        theft.addresses.add(leaf)
        theft.native(src, leaf, eth // 4, block + p.blocks_per_layer + rng.randrange(p.blocks_per_layer))
    block += 2 * p.blocks_per_layer
    # filler: repeated payments along existing edges, then poisoning spam from traced wallets
    spam_budget = int(p.transfers * p.spam_ratio / (1 + p.spam_ratio))
    while theft.transfers < p.transfers - spam_budget and edges:
        parent, child, value, b = edges[rng.randrange(len(edges))]
        theft.native(parent, child, value // 1000 or 1, b + rng.randrange(1, 50))
    traced = [seed, *[a for layer in theft.layers for a in layer]]
    while theft.transfers < p.transfers:
        victim = traced[rng.randrange(len(traced))]
        theft.token(victim, _lookalike(rng, victim), ETHER, block - rng.randrange(p.blocks_per_layer),
                    COUNTERFEIT, "ЕTH", sent_by_owner=False)
    chain.head = block + 100
    theft.next_block = block + 101
    return theft


def move(theft: Theft, fraction: float, rng_seed: int = 7) -> int:
    """New activity: `fraction` of the traced wallets send part of what they hold to new addresses."""
    rng = random.Random(rng_seed)
    wallets = [a for layer in theft.layers for a in layer]
    moved = rng.sample(wallets, max(1, int(len(wallets) * fraction)))
    block = theft.next_block
    for w in moved:
        theft.native(w, _address(rng), ETHER, block + rng.randrange(10))
    theft.chain.head = block + 20
    theft.next_block = block + 21
    return len(moved)
