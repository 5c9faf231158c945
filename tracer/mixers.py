"""Which Tornado Cash withdrawals may be a traced deposit coming back out.

A mixer breaks the on-chain link by design; what is left are the users'
mistakes, measured by Wang et al. ("On How Zero-Knowledge Proof Blockchain
Mixers Improve, and Worsen User Privacy", WWW 2023) and earlier Tornado
studies. Each heuristic that fires adds evidence; the result is a
*candidate*, an inferred edge with a confidence, never a fact.

- same-address: the withdrawal pays the depositing address itself;
- linked-addresses: depositor and withdrawer have 3 or more direct
  transfers between them outside the pool;
- multi-denomination: the withdrawer takes out of every pool the depositor
  put into, within the window (the same set of denominations);
- unique-gas-price: both transactions are legacy (pre-EIP-1559 style) and
  share a gas price no other candidate withdrawal uses;
- temporal-fifo: the first withdrawal after the deposit not claimed by an
  earlier deposit (weak on its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field

WEIGHTS = {
    "same-address": 0.95,
    "linked-addresses": 0.8,
    "multi-denomination": 0.7,
    "unique-gas-price": 0.6,
    "temporal-fifo": 0.2,
}


@dataclass(frozen=True)
class Deposit:
    tx_hash: str
    pool: str
    depositor: str
    block: int
    timestamp: int
    denomination: int


@dataclass(frozen=True)
class Withdrawal:
    tx_hash: str
    log_index: int
    pool: str
    to: str
    relayer: str
    fee: int
    block: int
    timestamp: int


@dataclass(frozen=True)
class TxInfo:
    legacy: bool
    gas_price: int


@dataclass
class Link:
    deposit: Deposit
    withdrawal: Withdrawal
    heuristics: list[str] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        miss = 1.0
        for h in self.heuristics:
            miss *= 1.0 - WEIGHTS[h]
        return round(1.0 - miss, 4)


def propose_links(
    deposits: list[Deposit],
    withdrawals: list[Withdrawal],
    window_seconds: int,
    direct_transfers: dict[tuple[str, str], int],
    tx_info: dict[str, TxInfo],
) -> list[Link]:
    """Candidate (deposit, withdrawal) pairs with the heuristics that fired, strongest first."""
    by_pool: dict[str, list[Withdrawal]] = {}
    for w in sorted(withdrawals, key=lambda w: (w.block, w.log_index)):
        by_pool.setdefault(w.pool, []).append(w)
    pools_of_depositor: dict[str, set[str]] = {}
    for d in deposits:
        pools_of_depositor.setdefault(d.depositor, set()).add(d.pool)
    links: list[Link] = []
    claimed: set[str] = set()
    for d in sorted(deposits, key=lambda d: (d.block, d.tx_hash)):
        window = [w for w in by_pool.get(d.pool, []) if d.timestamp <= w.timestamp <= d.timestamp + window_seconds
                  and w.block >= d.block]
        gas_counts: dict[int, int] = {}
        for w in window:
            info = tx_info.get(w.tx_hash)
            if info and info.legacy:
                gas_counts[info.gas_price] = gas_counts.get(info.gas_price, 0) + 1
        fifo = next((w for w in window if w.tx_hash not in claimed), None)
        if fifo is not None:
            claimed.add(fifo.tx_hash)
        for w in window:
            fired = []
            if w.to == d.depositor:
                fired.append("same-address")
            pair = (d.depositor, w.to)
            if direct_transfers.get(pair, 0) + direct_transfers.get(pair[::-1], 0) >= 3:
                fired.append("linked-addresses")
            pools = pools_of_depositor[d.depositor]
            if len(pools) >= 2 and all(
                any(x.to == w.to and d.timestamp <= x.timestamp <= d.timestamp + window_seconds
                    for x in by_pool.get(p, []))
                for p in pools
            ):
                fired.append("multi-denomination")
            di, wi = tx_info.get(d.tx_hash), tx_info.get(w.tx_hash)
            if di and wi and di.legacy and wi.legacy and di.gas_price == wi.gas_price \
                    and gas_counts.get(wi.gas_price, 0) == 1:
                fired.append("unique-gas-price")
            if w is fifo:
                fired.append("temporal-fifo")
            if fired:
                links.append(Link(d, w, fired))
    links.sort(key=lambda link: (-link.confidence, link.deposit.block, link.withdrawal.block))
    return links
