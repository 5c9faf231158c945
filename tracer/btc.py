"""Bitcoin transactions as the graph's edges, and the THORChain outbound that proves a bridge crossing.

A Bitcoin transaction has no single sender: it spends outputs of possibly several addresses into new
outputs. Its edges are therefore its outputs — `kind="utxo"`, identity `<txid>:utxo:<vout>` (the node id of
an output is `btc:<txid>:<vout>`), exact satoshis — drawn from the address of its first input, whatever
address's history they were read from (so that the same output is the same edge on every night and in every
store). The other input addresses are tied to that first one by `co-spend` edges (common-input ownership):
the tracer never follows those (a co-spender is not tainted unless traced value reached it), and it finds the
outputs an address spent into through them (Store.btc_spends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .models import Transfer

if TYPE_CHECKING:  # (the tracer reads the flags below without loading the HTTP client)
    from .sources.esplora import BtcTx

UTXO = "utxo"
CO_SPEND = "co-spend"
BTC_TOKEN = "btc:native"
CO_SPEND_FLAG = "co-spend"
COINBASE = "btc:coinbase"  # the "sender" of newly mined coins
FEE = "fee"  # what a transaction's inputs leave over: the miners' fee, and outputs with no address form
FEE_FLAG = "fee"
MINERS = "btc:fee"  # the fee edge's recipient: never a node of the graph, never followed


COINJOIN_FLAG = "coinjoin"
WHIRLPOOL_POOLS = (100_000, 1_000_000, 5_000_000, 50_000_000)  # sats (GraphSense's Whirlpool detector, notes §4)
DUST = (546, 2730)


def coinjoin_kind(tx: BtcTx) -> str | None:
    """"whirlpool", "wasabi2", "joinmarket" or "equal-outputs" for a transaction shaped like a CoinJoin, else None.

    The rules are the published detectors the notes cite (§4): GraphSense's protocol detectors, BlockSci's
    isCoinjoin, with a Stonewall-shaped transaction (3-4 outputs, one value twice) as a veto. Each needs the
    participants a mix has: distinct input addresses at least as many as the equal outputs — a thief's own
    split into round equal amounts (one address's coins in, 3 × 1 BTC out) is a payment, and is followed.
    Equal outputs of a real mix cannot be told apart: the trail stops there, as at Tornado Cash."""
    values = [o.value for o in tx.outputs if o.address is not None]
    addresses = [o.address for o in tx.outputs if o.address is not None]
    owners = [i.address for i in tx.inputs]
    n_in = len(tx.inputs)
    distinct_in = len({a for a in owners if a})
    if n_in < 2 or len(values) < 3 or len(set(addresses)) != len(addresses) or distinct_in < 2:
        return None
    counts: dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    value, most = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    if len(values) in (3, 4) and sorted(counts.values()) == [1] * (len(values) - 2) + [2]:
        return None  # Stonewall: one value twice is a payment and its decoy, not a mix
    if most > distinct_in:
        return None  # more equal outputs than parties to the transaction: one party's split or payout
    if 5 <= n_in <= 8 and len(values) == n_in == distinct_in and most == len(values) and value in WHIRLPOOL_POOLS \
            and all(i.value is not None and 0 <= i.value - value <= 110_000 for i in tx.inputs):
        return "whirlpool"  # remixes bring the pool's amount, new entrants it plus the miner fee (100-110,000)
    if n_in >= 20 and sum(1 for c in counts.values() if c >= 2) >= 3 and min(values) >= 5_000 \
            and max(owners.count(a) for a in set(owners)) * 10 <= n_in:
        return "wasabi2"  # no one owns more than a tenth of the inputs
    if most >= 3 and value > DUST[1] and most * 2 >= len(values) and most < len(values):
        return "joinmarket"
    participants = -(-len(values) // 2)  # BlockSci's isCoinjoin: as many equal outputs as half the outputs
    if most == participants >= 2 and participants <= min(n_in, distinct_in) and value not in DUST:
        return "equal-outputs"
    return None


CHANGE_FLAG = "change"
CHANGE_CONFIDENCE = {"high": 0.9, "medium": 0.7, "low": 0.4}  # the graph's `confidence`, as for mixer links


@dataclass(frozen=True)
class Change:
    """The output a transaction most likely paid back to its sender, and why."""
    vout: int
    heuristics: tuple[str, ...]  # the agreeing heuristics, in the order of CHANGE_HEURISTICS
    confidence: str  # "high", "medium" or "low"

    @property
    def flags(self) -> frozenset[str]:
        return frozenset({CHANGE_FLAG, f"change-{self.confidence}", *(f"change-{h}" for h in self.heuristics)})

    @property
    def same_owner(self) -> bool:
        """Sure enough that the trail goes on along it without counting a hop (a peel chain's change)."""
        return self.confidence != "low"


CHANGE_HEURISTICS = ("address-reuse", "script-type", "round-amount", "optimal-change", "peel-chain")


def _trailing_zeros(value: int) -> int:
    n = 0
    while value and value % 10 == 0:
        value //= 10
        n += 1
    return n


def change_of(tx: BtcTx) -> Change | None:
    """The likely change output of an ordinary payment (2-10 outputs with addresses, no CoinJoin), or None.

    Each heuristic of the notes (§4) votes for one output; no single one is trusted alone (BlockSci's warning),
    and outputs named by different heuristics leave the transaction undecided:
    - address-reuse: the one output paid back to an input's address (GraphSense's "direct change");
    - script-type: the inputs share one script type and exactly one output has it;
    - round-amount: of two outputs, the one with 3 or more fewer trailing decimal zeros (Esplora's rule: the
      round one is the payment);
    - optimal-change: with several inputs, the one output smaller than every input (else an input was not needed);
    - peel-chain: one input, two outputs: the larger goes on (bitcoinprivacy.wiki's peel chain, BlockSci's shape).
    Confidence: high when the address is reused or three agree, medium when two do, low for one."""
    if coinjoin_kind(tx) is not None:
        return None  # the notes' rule: no change heuristics inside a CoinJoin
    outs = [o for o in tx.outputs if o.address is not None]
    ins = list(tx.inputs)
    if not 2 <= len(outs) <= 10 or not ins or any(i.address is None or i.value is None for i in ins):
        return None
    if len({o.address for o in outs}) != len(outs):
        return None  # two outputs to one address: no single change output to name
    votes: dict[int, list[str]] = {}
    owners = {i.address for i in ins}
    reused = [o for o in outs if o.address in owners]
    if len(reused) == 1:
        votes.setdefault(reused[0].n, []).append("address-reuse")
    in_types = {i.script_type for i in ins}
    if len(in_types) == 1 and "" not in in_types:
        same = [o for o in outs if o.script_type in in_types]
        if len(same) == 1:
            votes.setdefault(same[0].n, []).append("script-type")
    if len(outs) == 2:
        a, b = outs
        za, zb = _trailing_zeros(a.value), _trailing_zeros(b.value)
        if abs(za - zb) >= 3:
            votes.setdefault((a if za < zb else b).n, []).append("round-amount")
    if len(ins) >= 2:
        smallest = min(i.value or 0 for i in ins)
        below = [o for o in outs if o.value < smallest]
        if len(below) == 1:
            votes.setdefault(below[0].n, []).append("optimal-change")
    if len(ins) == 1 and len(outs) == 2 and outs[0].value != outs[1].value:
        votes.setdefault(max(outs, key=lambda o: o.value).n, []).append("peel-chain")
    if len(votes) != 1:
        return None  # no signal, or heuristics that disagree
    (vout, named), = votes.items()
    confidence = "high" if "address-reuse" in named or len(named) >= 3 else "medium" if len(named) == 2 else "low"
    return Change(vout, tuple(h for h in CHANGE_HEURISTICS if h in named), confidence)


def change_flags(flags: frozenset[str]) -> tuple[str, float] | None:
    """(heuristics "a;b", confidence) of an edge marked as change, for the graph; None for any other edge."""
    if CHANGE_FLAG not in flags:
        return None
    named = ";".join(h for h in CHANGE_HEURISTICS if f"change-{h}" in flags)
    level = next((c for c in CHANGE_CONFIDENCE if f"change-{c}" in flags), "low")
    return named, CHANGE_CONFIDENCE[level]


def node(address: str) -> str:
    return f"btc:{address}"


def node_for(text: str) -> str | None:
    """The node of a Bitcoin address as written anywhere (a memo, a seed list, the command line): checksum
    checked, one spelling per address (bech32 may be written upper-case); None if it is not one."""
    from .chain_addresses import check

    address = check("btc", text.strip()).address
    return node(address) if address else None


def transfers_of(tx: BtcTx) -> list[Transfer]:
    """The edges of one confirmed transaction: one per output with an address, one per other input address, and
    one `fee` edge (to MINERS) for what the inputs leave over."""
    if tx.height is None:
        return []
    senders = list(dict.fromkeys(i.address for i in tx.inputs if i.address))
    first = node(senders[0]) if senders else COINBASE
    mix = coinjoin_kind(tx)
    flags = frozenset({COINJOIN_FLAG, f"coinjoin-{mix}"}) if mix else frozenset()
    inbound = thorchain_outbound_of(tx)
    memo = f"OUT:{inbound[2:].upper()}" if inbound else None  # kept with the edges: the crossing's proof
    change = None if mix or inbound else change_of(tx)  # (a THORChain vault's change stays with THORChain)
    out = [
        Transfer(tx_hash=tx.txid, kind=UTXO, position=str(o.n), block=tx.height, timestamp=tx.time or 0,
                 from_addr=first, to_addr=node(o.address), token=BTC_TOKEN, asset="BTC", decimals=8,
                 amount=o.value, flags=flags | change.flags if change and change.vout == o.n else flags, memo=memo)
        for o in tx.outputs if o.address is not None
    ]
    for i, other in enumerate(senders[1:], start=1):
        value = sum(v.value or 0 for v in tx.inputs if v.address == other)
        out.append(Transfer(tx_hash=tx.txid, kind=CO_SPEND, position=str(i), block=tx.height, timestamp=tx.time or 0,
                            from_addr=first, to_addr=node(other), token=BTC_TOKEN, asset="BTC", decimals=8,
                            amount=value, flags=frozenset({CO_SPEND_FLAG})))
    # The rest of the inputs is kept as one edge, so that what the first input's address spent can be told from
    # the store (the outputs plus this, less the co-spenders'): taint is conserved to the satoshi (taint.py).
    if senders and all(i.value is not None for i in tx.inputs):
        rest = sum(i.value or 0 for i in tx.inputs) - sum(o.value for o in tx.outputs if o.address is not None)
        if rest > 0:
            out.append(Transfer(tx_hash=tx.txid, kind=FEE, position="0", block=tx.height, timestamp=tx.time or 0,
                                from_addr=first, to_addr=MINERS, token=BTC_TOKEN, asset="BTC", decimals=8,
                                amount=rest, flags=frozenset({FEE_FLAG})))
    return out


def thorchain_outbound_of(tx: BtcTx) -> str | None:
    """The inbound transaction hash a THORChain outbound names in its `OUT:<hash>` OP_RETURN memo, lower-case
    and 0x-prefixed as Ethereum writes it (THORChain writes it upper-case, without 0x), or None."""
    for o in tx.outputs:
        data = o.op_return
        if data and data.upper().startswith(b"OUT:"):
            text = data[4:].decode("ascii", "replace").strip()
            if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
                return "0x" + text.lower()
    return None
