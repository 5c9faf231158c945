"""A synthetic attributed case of many seeds, as Etherscan-shaped records (the nightly-at-scale test and benchmark).

Shaped like the LazarusBounty list: thousands of attributed wallets, each funded from the theft, most of which
passed the money on once or twice and then went quiet; a share still holds it (dormant), a few hold stETH too
(their token balance is screened every night), and some of the wallets they paid forward again. `move()` makes
a chosen number of seeds send again, as a nightly job has to notice.

    case = generate_case(10_000)
    case.chain      # an explorer_server.Chain
    case.feed()     # the feed document in the LazarusBounty shape, {"0221": {"eth": [...]}}
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from explorer_server import Chain

STETH = "0xae7ab96520de3a18e5e111b5eaab095312d7fe84"
ETHER = 10**18
START_BLOCK = 21_895_300
START_TIME = 1_740_148_187


@dataclass
class SeedCase:
    chain: Chain
    funder: str
    seeds: list[str]
    hop1: list[str] = field(default_factory=list)
    hop2: list[str] = field(default_factory=list)
    next_block: int = 0
    _n: int = 0
    _rng: random.Random = field(default_factory=lambda: random.Random(7))
    namespace: str = "seed-case"  # transaction hashes differ between chains, as real ones do

    def feed(self, key: str = "0221") -> dict:
        return {key: {"eth": list(self.seeds)}}

    def _hash(self) -> str:
        self._n += 1
        return "0x" + hashlib.sha256(f"{self.namespace}:{self._n}".encode()).hexdigest()

    def native(self, src: str, dst: str, value: int, block: int) -> str:
        tx = self._hash()
        self.chain.records["txlist"].append({
            "blockNumber": str(block), "timeStamp": str(START_TIME + (block - START_BLOCK) * 12), "hash": tx,
            "from": src, "to": dst, "value": str(value), "isError": "0", "txreceipt_status": "1", "input": "0x",
            "contractAddress": "", "gasPrice": "1000000000", "gasUsed": "21000"})
        return tx

    def token(self, src: str, dst: str, value: int, block: int) -> None:
        tx, stamp = self._hash(), str(START_TIME + (block - START_BLOCK) * 12)
        self.chain.records["tokentx"].append({
            "blockNumber": str(block), "timeStamp": stamp, "hash": tx, "from": src, "to": dst, "value": str(value),
            "contractAddress": STETH, "tokenSymbol": "stETH", "tokenName": "stETH", "tokenDecimal": "18"})

    def move(self, seeds: list[str]) -> dict[str, str]:
        """Each of `seeds` sends 1 ETH to a new wallet in a new block: {seed: transaction hash}."""
        block = self.next_block
        moved = {}
        for i, s in enumerate(seeds):
            moved[s] = self.native(s, _address(self._rng), ETHER, block + i % 10)
        self.chain.head = block + 20
        self.next_block = block + 21
        return moved


def _address(rng: random.Random) -> str:
    return "0x" + "%040x" % rng.getrandbits(160)


THORCHAIN_ROUTER = "0xd37bbe5744d730a1d98d8dc97c42f0ca46ad7146"  # a labelled exit: never followed


def generate_case(n_seeds: int, dormant: float = 0.3, token_holders: float = 0.01, to_seed: float = 0.6,
                  to_exit: float = 0.3, rng_seed: int = 2025) -> SeedCase:
    """`n_seeds` attributed wallets funded by one theft address. As in the published list, the attribution
    already holds most of the laundering chain: a wallet that moves pays another seed (`to_seed`), a bridge
    deposit (`to_exit`, THORChain's router: an exit, never followed) or a wallet nobody attributed (the rest,
    followed as hop 1; half of those pay on again)."""
    rng = random.Random(rng_seed)
    chain = Chain()
    funder = _address(rng)
    case = SeedCase(chain, funder, [_address(rng) for _ in range(n_seeds)], _rng=random.Random(rng_seed + 1))
    block = START_BLOCK
    first = n_seeds // 3  # the theft pays a third of the wallets; they pay the rest on
    for i, s in enumerate(case.seeds[:first]):
        case.native(funder, s, 100 * ETHER, block + i // 50)  # the theft's split: fifty wallets a block
    block += first // 50 + 10
    for i, s in enumerate(case.seeds):
        if rng.random() < token_holders:
            case.token(funder, s, 50 * ETHER, block)  # held: screened by token balance every night
        if rng.random() < dormant:
            continue
        b = block + 1 + i // 10
        pick = rng.random()
        if pick < to_seed and i + 1 < n_seeds:
            case.native(s, case.seeds[rng.randrange(i + 1, n_seeds)], 40 * ETHER, b)
        elif pick < to_seed + to_exit:
            case.native(s, THORCHAIN_ROUTER, 40 * ETHER, b)
        else:
            w = _address(rng)
            case.hop1.append(w)
            case.native(s, w, 40 * ETHER, b)
    block += n_seeds // 10 + 10
    for w in case.hop1:
        if rng.random() < 0.5:
            x = _address(rng)
            case.hop2.append(x)
            case.native(w, x, 30 * ETHER, block + rng.randrange(2_000))
    block += 2_000
    chain.head = block + 100
    case.next_block = block + 101
    return case
