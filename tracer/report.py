"""Summaries of what the store holds, for `tracer show` (and later reports)."""

from __future__ import annotations

import json
from collections import defaultdict

from .errors import InputError
from .labels import best_label, current_category, display_label, known_code, on_trail
from .models import format_amount
from .store import Store


def address_summary(store: Store, address: str) -> dict:
    row = store.address(address)
    transfers = store.transfers_of(address)
    if row is None and not transfers:
        raise InputError(f"{address} is not in the store {store.location}")
    imported = [tuple(r) for r in store.imported_labels(address)]
    curated = best_label(address, imported)
    label, source = display_label(address, imported)
    totals: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0])
    peers: dict[tuple[str, str], int] = defaultdict(int)
    poison = 0
    for t in transfers:
        if t.is_poison:
            poison += 1
            continue
        outgoing = t.from_addr == address
        totals[(t.asset, t.token, t.decimals)][1 if outgoing else 0] += t.amount
        other = t.to_addr if outgoing else t.from_addr
        peers[(other, "out" if outgoing else "in")] += 1
    categories = {a: (r.category if r else None) for a, r in ((p, store.address(p)) for p, _ in peers)}
    return {
        "address": address,
        "label": label,
        "label_source": source,
        "category": current_category(address, row.category if row else None, imported)
        or (curated.category if curated else ""),  # as the tracer would decide now
        "hop": row.hop if row and row.hop is not None else -1,
        "is_contract": bool(row.is_contract) if row and row.is_contract is not None else
        known_code(address) == "contract",
        "followed": bool(row) and on_trail(address, row.followed, row.hop, imported),
        "reach_block": row.reach_block if row else None,
        "totals": [
            {"asset": asset, "token": token, "in": format_amount(v[0], dec), "out": format_amount(v[1], dec),
             "in_base_units": str(v[0]), "out_base_units": str(v[1])}
            for (asset, token, dec), v in sorted(totals.items())
        ],
        "counterparties": [
            {"address": p, "direction": d, "transfers": n, "category": categories.get(p)}
            for (p, d), n in sorted(peers.items(), key=lambda kv: -kv[1])
        ],
        "poison_transfers": poison,
        "imported_labels": [{"label": lab, "category": cat, "source": src} for lab, cat, src in imported],
    }


ENDPOINT_KINDS = {
    "exchange": "exchange", "bridge": "bridge", "mixer": "mixer", "dex": "dex", "service": "service",
    "contract": "unknown contract", "token": "token contract", "wallet-contract": "holder", "eoa": "holder",
    "theft": "holder", "unknown": "holder",
}


def traced_eth(row: dict) -> str:
    """An exits row's ETH: for a Bitcoin row the ETH its satoshis crossed as; "" when none crossed (Bitcoin
    seeds alone: no figure is made up)."""
    if row.get("asset", "ETH") == "ETH" or row.get("eth_equivalent"):
        return format_amount(int(row["taint_wei"]), 18)
    return ""


def traced_btc(row: dict) -> str:
    return format_amount(int(row["taint_sats"]), 8) if row.get("asset") == "BTC" else ""


def exits_table(store: Store, model: str = "haircut", min_wei: int = 1, graph=None, taint=None) -> list[dict]:
    """Where the traced value (ETH class) ended up, largest first.

    Endpoints the trace does not follow (exchanges, bridges with their decoded
    destinations, mixers, DEXes, unknown contracts, addresses past the hop
    limit) by what reached them; followed addresses by what they still hold
    (dormant funds). Bitcoin endpoints (CoinJoins, labelled services, holders)
    rank beside them by the ETH their satoshis crossed as (the verified
    crossings' rate: tainted wei in per tainted satoshi out); without a
    crossing (Bitcoin seeds only) they come after, by satoshis. A bridge row's
    value goes on in the Bitcoin rows it became: the two are not to be added.
    """
    from .graph import build_graph
    from .models import to_float
    from .taint import BTC_CLASS, ETH_CLASS, compute

    taint = taint or compute(store, model)
    graph = graph if graph is not None else build_graph(store, model, taint)
    destinations: dict[str, list[dict]] = defaultdict(list)
    for r in store.exit_rows():
        entry = {"protocol": r["protocol"], "tx_hash": r["tx_hash"], "depositor": r["depositor"],
                 "amount": r["amount"], "token": r["token"], "dest_chain": r["dest_chain"],
                 "dest_address": r["dest_address"], "dest_asset": r["dest_asset"], "memo": r["memo"],
                 "flags": r["flags"], "detail": r["detail"]}
        router = json.loads(r["detail"] or "{}").get("router")
        destinations[router or r["venue"]].append(entry)  # where the traced funds were sent
    rate = taint.wei_per_sat()
    rows = []
    for node, attrs in graph.nodes(data=True):
        if attrs.get("category") in ("seed", "destination", "poison"):
            continue
        on_btc = node.startswith("btc:")
        cls = BTC_CLASS if on_btc else ETH_CLASS
        if attrs.get("followed"):
            amount = taint.held.get(node, {}).get(cls, 0)
            kind = "dormant holder"
        else:
            amount = taint.reached.get(node, {}).get(cls, 0)
            kind = ENDPOINT_KINDS.get(attrs.get("category", ""), attrs.get("category", ""))
            if kind == "holder":
                kind = "holder past the hop limit" if attrs.get("hop", -1) >= 0 else "holder"
        sats = amount if on_btc else 0
        wei = (amount * rate[0] // rate[1] if rate else 0) if on_btc else amount
        if wei < min_wei and not (on_btc and not rate and sats > 0):
            continue
        rows.append({
            "address": node, "label": attrs.get("label", ""), "label_source": attrs.get("label_source", ""),
            "category": attrs.get("category", ""), "kind": kind, "hop": attrs.get("hop", -1), "asset": cls,
            "taint_wei": str(wei), "taint_eth": to_float(wei, 18), "taint_sats": str(sats),
            "taint_btc": to_float(sats, 8), "eth_equivalent": on_btc and rate is not None, "model": model,
            "destinations": destinations.get(node, []),
        })
    rows.sort(key=lambda r: (-int(r["taint_wei"]), -int(r["taint_sats"]), r["address"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return rows
