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

from .models import Transfer
from .sources.esplora import BtcTx

UTXO = "utxo"
CO_SPEND = "co-spend"
BTC_TOKEN = "btc:native"
CO_SPEND_FLAG = "co-spend"
COINBASE = "btc:coinbase"  # the "sender" of newly mined coins


def node(address: str) -> str:
    return f"btc:{address}"


def transfers_of(tx: BtcTx) -> list[Transfer]:
    """The edges of one confirmed transaction: one per output with an address, one per other input address."""
    if tx.height is None:
        return []
    senders = list(dict.fromkeys(i.address for i in tx.inputs if i.address))
    first = node(senders[0]) if senders else COINBASE
    out = [
        Transfer(tx_hash=tx.txid, kind=UTXO, position=str(o.n), block=tx.height, timestamp=tx.time or 0,
                 from_addr=first, to_addr=node(o.address), token=BTC_TOKEN, asset="BTC", decimals=8,
                 amount=o.value)
        for o in tx.outputs if o.address is not None
    ]
    for i, other in enumerate(senders[1:], start=1):
        value = sum(v.value or 0 for v in tx.inputs if v.address == other)
        out.append(Transfer(tx_hash=tx.txid, kind=CO_SPEND, position=str(i), block=tx.height, timestamp=tx.time or 0,
                            from_addr=first, to_addr=node(other), token=BTC_TOKEN, asset="BTC", decimals=8,
                            amount=value, flags=frozenset({CO_SPEND_FLAG})))
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
