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

from .labels import on_trail
from .models import ETH, Transfer
from .store import Store
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
    imported = store.imported_label_map()
    # A followed address that the current labels call a service is an endpoint (labels may come after a trace).
    followed = {r["address"]: (r["reach_block"] or 0) for r in rows
                if r["hop"] != 0 and on_trail(r["address"], r["followed"], r["hop"], imported.get(r["address"]))}
    out = Taint(model)
    balance: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    tainted = out.held

    def traced(address: str, block: int) -> bool:
        reach = followed.get(address)
        return reach is not None and block >= reach

    def legs_of_transactions():
        """Rows come ordered by block and id (which starts with the tx hash): one transaction at a time."""
        current, legs = None, []
        for t in store.transfers_in_order(skip_poison=True):
            if t.tx_hash != current:
                if legs:
                    yield current, legs
                current, legs = t.tx_hash, []
            cls = asset_class(t)
            if cls:
                legs.append((t, *cls))
        if legs:
            yield current, legs

    for tx_hash, legs in legs_of_transactions():
        if len(legs) > 1:
            # outflows of traced addresses before inflows: a swap's proceeds come after what paid for them
            legs.sort(key=lambda leg: (not (leg[0].from_addr in seeds or traced(leg[0].from_addr, leg[0].block)),
                                       leg[0].log_index or 0))
        swap_in: dict[str, tuple[Transfer, int, int, str]] = {}  # receiver -> (sent leg, taint, units, class)
        for t, cls, units in legs:
            src, dst = t.from_addr, t.to_addr
            src_traced = src in seeds or traced(src, t.block)
            if src in seeds:
                tau = units
                out.from_seeds[cls] += units
            elif src_traced:
                tau = _outflow_taint(model, units, tainted[src][cls], balance[src][cls])
                tainted[src][cls] -= min(tau, tainted[src][cls])
                balance[src][cls] = max(0, balance[src][cls] - units)
            elif dst in swap_in and src == swap_in[dst][0].to_addr:
                sent, sent_tau, sent_units, sent_cls = swap_in.pop(dst)
                tau = sent_tau * units // sent_units if sent_units else 0
                if cls == sent_cls:  # the venue keeps what the swap did not give back
                    out.reached[src][cls] -= tau
                out.swaps.append(Swap(tx_hash, dst, src, sent, t))
            else:
                tau = 0
            if src_traced and len(legs) > 1 and dst not in seeds and not traced(dst, t.block):
                if any(o.from_addr == dst and o.to_addr == src for o, _, _ in legs if o is not t):
                    swap_in[src] = (t, tau, units, cls)
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
