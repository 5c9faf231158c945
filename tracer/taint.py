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

Bitcoin (class "BTC", satoshis): a transaction pools its inputs — each input
address gives its tainted share of what it spent (haircut, as above) — and
every output, and the fee, carries the pool's tainted share of its value,
split to the satoshi (largest remainders). A verified THORChain crossing
brings taint over the bridge: the outbound's output to the decoded address
carries the deposit's tainted fraction of its satoshis (and so does every
later part of the same swap paid from the same vault). Conserved: what the
Bitcoin seeds sent plus what crossed equals what followed Bitcoin addresses
hold plus what reached the endpoints (miners' fees included), to the satoshi.
Bitcoin is processed after the EVM chains: its taint comes from them, never
the other way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from .btc import BTC_TOKEN, CO_SPEND, FEE, UTXO, node_for
from .labels import on_trail
from .models import Transfer
from .store import Store
from .tokens import lookup, wei_equivalent

ETH_CLASS = "ETH"
BTC_CLASS = "BTC"
MODELS = ("haircut", "poison")


def asset_class(t: Transfer) -> tuple[str, int] | None:
    """(class, units) of a transfer, or None when it carries no value we count."""
    if t.is_poison or t.amount <= 0:
        return None
    wei = wei_equivalent(t.token, t.amount)
    if wei is not None:
        return ETH_CLASS, wei
    return (t.token, t.amount) if lookup(t.token) else None


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
    crossed: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # class -> taint brought over bridges
    crossed_wei: int = 0  # the ETH-class taint of the deposits that brought crossed["BTC"] (for a rate)

    def eth(self, address: str) -> int:
        return self.reached.get(address, {}).get(ETH_CLASS, 0)

    def btc(self, address: str) -> int:
        return self.reached.get(address, {}).get(BTC_CLASS, 0)

    def wei_per_sat(self) -> tuple[int, int] | None:
        """(wei, sats): the ETH-class taint that crossed into Bitcoin per tainted satoshi it became, if any did."""
        sats = self.crossed.get(BTC_CLASS, 0)
        return (self.crossed_wei, sats) if sats and self.crossed_wei else None


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
        """Rows come ordered by block and id (which starts with the tx hash): one transaction at a time. Bitcoin's
        are kept for after the rest (their heights are no Ethereum block numbers)."""
        current, legs = None, []
        for t in store.transfers_in_order(skip_poison=True):
            if t.token == BTC_TOKEN:
                btc_txs.setdefault(t.tx_hash, []).append(t)
                continue
            if t.tx_hash != current:
                if legs:
                    yield current, legs
                current, legs = t.tx_hash, []
            cls = asset_class(t)
            if cls:
                legs.append((t, *cls))
        if legs:
            yield current, legs

    btc_txs: dict[str, list[Transfer]] = {}  # (insertion order: block, then id)
    crossing_deposits = {r["tx_hash"]: r for r in store.exit_rows()
                         if r["dest_chain"] == "btc" and "verified" in (r["flags"] or "").split(",")}
    deposit_taint: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # tx hash -> [taint, units] of its deposit
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
            deposit = crossing_deposits.get(tx_hash)
            if deposit is not None and src == deposit["depositor"] and t.token == deposit["token"]:
                deposit_taint[tx_hash][0] += tau
                deposit_taint[tx_hash][1] += t.amount

    crossing = _crossing_taint(crossing_deposits, deposit_taint, btc_txs, out)
    for txid, legs in btc_txs.items():
        _btc_transaction(model, legs, crossing, seeds, traced, balance, tainted, out)
    return out


def _crossing_taint(deposits: dict, deposit_taint: dict[str, list[int]], btc_txs: dict[str, list[Transfer]],
                    out: Taint) -> dict[str, int]:
    """Taint each verified crossing brings into Bitcoin: transfer key -> tainted satoshis, for the outputs to the
    decoded address that carry the deposit's `OUT:` memo and come from the vault that paid its first outbound (a
    memo is public: a copy sent by anyone else proves nothing and carries nothing)."""
    brought: dict[str, int] = {}
    by_memo: dict[str, list[Transfer]] = defaultdict(list)
    for legs in btc_txs.values():
        for t in legs:
            if t.kind == UTXO and t.memo:
                by_memo[t.memo].append(t)
    for tx_hash, r in deposits.items():
        detail = json.loads(r["detail"] or "{}")
        first = btc_txs.get(str(detail.get("btc_outbound", "")))
        taint, units = deposit_taint.get(tx_hash, (0, 0))
        dest = node_for(r["dest_address"] or "")
        if not first or not units or not dest:
            continue
        taint, vault, sats = min(taint, units), first[0].from_addr, 0
        for t in by_memo.get(f"OUT:{tx_hash[2:].upper()}", ()):
            if t.to_addr == dest and t.from_addr == vault:
                share = t.amount * taint // units
                brought[t.key] = brought.get(t.key, 0) + share
                sats += share
        out.crossed[BTC_CLASS] += sats
        wei = wei_equivalent(r["token"], taint)
        if sats and wei is not None:
            out.crossed_wei += wei
    return brought


def _btc_transaction(model: str, legs: list[Transfer], crossing: dict[str, int], seeds: set[str], traced,
                     balance, tainted, out: Taint) -> None:
    """One Bitcoin transaction: the inputs pool their tainted shares, the outputs and the fee split the pool."""
    parts = [t for t in legs if t.kind in (UTXO, FEE)]
    co_spends = [t for t in legs if t.kind == CO_SPEND]
    first, block = legs[0].from_addr, legs[0].block
    spent = {first: max(0, sum(t.amount for t in parts) - sum(t.amount for t in co_spends))}
    for t in co_spends:
        spent[t.to_addr] = spent.get(t.to_addr, 0) + t.amount
        out.edges[t.key] = 0  # a co-spender's coin is an input: it moves nothing to anyone
    pooled = 0
    for address, units in spent.items():
        if address in seeds:
            pooled += units
            out.from_seeds[BTC_CLASS] += units
        elif traced(address, block):
            tau = _outflow_taint(model, units, tainted[address][BTC_CLASS], balance[address][BTC_CLASS])
            tainted[address][BTC_CLASS] -= min(tau, tainted[address][BTC_CLASS])
            balance[address][BTC_CLASS] = max(0, balance[address][BTC_CLASS] - units)
            pooled += tau
    if model == "poison":
        shares = [t.amount if pooled else 0 for t in parts]
    else:
        shares = split_exactly(pooled, [t.amount for t in parts])
    for t, tau in zip(parts, shares):
        tau = min(t.amount, tau + crossing.get(t.key, 0))
        out.edges[t.key] = tau
        out.reached[t.to_addr][BTC_CLASS] += tau
        if traced(t.to_addr, block):
            balance[t.to_addr][BTC_CLASS] += t.amount
            tainted[t.to_addr][BTC_CLASS] += tau


def split_exactly(total: int, parts: list[int]) -> list[int]:
    """`total` shared in proportion to `parts`, in whole units that add up to it exactly (largest remainders, ties
    to the first); never more than a part's own size."""
    whole = sum(parts)
    if whole <= 0 or total <= 0:
        return [0] * len(parts)
    total = min(total, whole)
    shares = [total * p // whole for p in parts]
    rest = total - sum(shares)
    order = sorted(range(len(parts)), key=lambda i: (-(total * parts[i] % whole), i))
    for i in order[:rest]:
        shares[i] += 1
    return shares


def _outflow_taint(model: str, units: int, tainted: int, balance: int) -> int:
    if tainted <= 0:
        return 0
    if model == "poison":
        return units
    if balance <= 0:
        return min(units, tainted)
    return min(units * tainted // balance, tainted)
