"""How much of the traced value reached each address.

Models (Möser et al. call them poison and haircut; FIFO is the third classic):
- haircut (default): every address holds a mix; each outflow carries the
  tainted share of the address's balance at that moment. Conserved: what
  leaves the seeds equals what the followed addresses still hold plus what
  reached the endpoints (exits, leaves), to the wei.
- poison: any outflow of an address that holds any taint is wholly tainted.
  Not conserved (it over-counts by design): an upper bound.

Units: ETH and ETH-pegged tokens form one class "ETH" (amounts in wei-
equivalents, 1:1, as for the dust threshold), other registered tokens one
class each (base units). Poisoning spam and unverified tokens carry nothing.

Swaps: when a followed address sends an asset to a contract and receives
another back in the same transaction, the received leg inherits the sent
leg's tainted share, and the venue keeps only what the swap did not return.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .models import ETH, Transfer
from .store import Store, transfer_from_row
from .tokens import lookup

ETH_CLASS = "ETH"
MODELS = ("haircut", "poison")


def asset_class(t: Transfer) -> tuple[str, int] | None:
    """(class, units) of a transfer, or None when it carries no value we count."""
    if t.is_poison or t.amount <= 0:
        return None
    if t.token == ETH:
        return ETH_CLASS, t.amount
    token = lookup(t.token)
    if token is None:
        return None
    if token.eth_equivalent:
        return ETH_CLASS, t.amount * 10 ** (18 - token.decimals)
    return t.token, t.amount


@dataclass
class Swap:
    tx_hash: str
    address: str
    venue: str
    sent: Transfer
    received: Transfer


@dataclass
class Taint:
    model: str
    reached: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    held: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    edges: dict[str, int] = field(default_factory=dict)  # transfer key -> tainted units (its class)
    from_seeds: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    swaps: list[Swap] = field(default_factory=list)

    def eth(self, address: str) -> int:
        return self.reached.get(address, {}).get(ETH_CLASS, 0)


def compute(store: Store, model: str = "haircut") -> Taint:
    if model not in MODELS:
        raise ValueError(model)
    rows = store.conn.execute("SELECT address, hop, reach_block, followed FROM addresses").fetchall()
    seeds = {r["address"] for r in rows if r["hop"] == 0}
    followed = {r["address"]: (r["reach_block"] or 0) for r in rows if r["followed"] and r["hop"] != 0}
    out = Taint(model)
    balance: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    tainted = out.held
    by_tx: dict[str, list[Transfer]] = defaultdict(list)
    order: list[str] = []
    for row in store.transfer_rows():
        t = transfer_from_row(row)
        if t.tx_hash not in by_tx:
            order.append(t.tx_hash)
        by_tx[t.tx_hash].append(t)

    def traced(address: str, block: int) -> bool:
        return address in followed and block >= followed[address]

    for tx_hash in order:
        legs = [t for t in by_tx[tx_hash] if asset_class(t)]
        # outflows of traced addresses before inflows: a swap's proceeds come after what paid for them
        legs.sort(key=lambda t: (not (t.from_addr in seeds or traced(t.from_addr, t.block)), t.log_index or 0))
        swap_in: dict[str, tuple[Transfer, int, int]] = {}  # receiver -> (sent leg, its taint, its units)
        for t in legs:
            cls, units = asset_class(t)
            src, dst = t.from_addr, t.to_addr
            if src in seeds:
                tau = units
                out.from_seeds[cls] += units
            elif traced(src, t.block):
                tau = _outflow_taint(model, units, tainted[src][cls], balance[src][cls])
                tainted[src][cls] -= min(tau, tainted[src][cls])
                balance[src][cls] = max(0, balance[src][cls] - units)
            elif dst in swap_in and src == swap_in[dst][0].to_addr:
                sent, sent_tau, sent_units = swap_in.pop(dst)
                tau = sent_tau * units // sent_units if sent_units else 0
                if cls == asset_class(sent)[0]:  # the venue keeps what the swap did not give back
                    out.reached[src][cls] -= tau
                out.swaps.append(Swap(tx_hash, dst, src, sent, t))
            else:
                tau = 0
            if traced(src, t.block) or src in seeds:
                has_return = any(o.from_addr == dst and o.to_addr == src for o in legs if o is not t)
                if has_return and dst not in seeds and not traced(dst, t.block):
                    swap_in[src] = (t, tau, units)
            out.edges[t.key] = tau
            out.reached[dst][cls] += tau
            if traced(dst, t.block):
                balance[dst][cls] += units
                tainted[dst][cls] += tau
    return out


def _outflow_taint(model: str, units: int, tainted: int, balance: int) -> int:
    if tainted <= 0:
        return 0
    if model == "poison":
        return units
    if balance <= 0:
        return min(units, tainted)
    return min(units * tainted // balance, tainted)
