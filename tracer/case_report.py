"""Everything a case report shows, gathered once from the store as plain data.

The HTML and Markdown writers only lay this out, so both say the same thing.
Strings that came from the chain or from label datasets stay untrusted here:
each writer escapes them for its own format (see safe_text and the writers).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import defaultdict
from dataclasses import asdict

import networkx as nx

from .models import POISON_FLAGS, format_amount
from .news import whats_new
from .seeds import seed_index
from .store import Store, _flags_set
from .tokens import wei_equivalent

CATEGORY_COLOURS = {
    "seed": "#d62728", "theft": "#8c1c13", "eoa": "#4e79a7", "unknown": "#7f8c9a", "wallet-contract": "#1f77b4",
    "exchange": "#ff7f0e", "service": "#f5a623", "bridge": "#9467bd", "destination": "#c5b0d5",
    "mixer": "#222222", "dex": "#17becf", "contract": "#8c564b", "token": "#bcbd22", "poison": "#d0d0d0",
}
ASSET_COLOURS = ["#1f77b4", "#2ca02c", "#e377c2", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#bcbd22"]
# Where a person checks a node or a transaction for themselves (links only; the report never fetches).
EXPLORERS = {
    "eth": "https://etherscan.io", "base": "https://basescan.org", "arb": "https://arbiscan.io",
    "op": "https://optimistic.etherscan.io", "bsc": "https://bscscan.com", "polygon": "https://polygonscan.com",
    "avax": "https://snowtrace.io", "linea": "https://lineascan.build", "scroll": "https://scrollscan.com",
    "gnosis": "https://gnosisscan.io", "zksync": "https://era.zksync.network",
}
BITCOIN_EXPLORER = "https://mempool.space"
_EVM_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
_TX_HASH = re.compile(r"^0x[0-9a-f]{64}$")
_BTC_TXID = re.compile(r"^[0-9a-f]{64}$")
_BTC_ADDRESS = re.compile(r"^(bc1[02-9ac-hj-np-z]{8,87}|[13][1-9A-HJ-NP-Za-km-z]{25,34})$")
TX_PER_EDGE = 20  # transaction hashes listed on one drawn edge (parallel transfers are drawn once)
FOLD_MIN = 8  # a fan-out (or fan-in) of this many similar edges is drawn as one group node
# A category's shape, so that the chart reads in black and white too (a printed report)
CATEGORY_SHAPES = {
    "seed": "star", "theft": "star", "exchange": "round-rectangle", "service": "round-rectangle",
    "bridge": "diamond", "destination": "tag", "mixer": "octagon", "dex": "hexagon", "contract": "rectangle",
    "token": "rectangle", "wallet-contract": "round-rectangle", "poison": "ellipse",
}
EXIT_CATEGORIES = frozenset({"exchange", "service", "bridge", "mixer", "dex", "destination"})
FOLDABLE = frozenset({"eoa", "unknown", "wallet-contract"})  # plain addresses: whether code was checked differs


def address_link(node: str) -> str:
    """An explorer page for a node id, or "" when the id is not a well-formed address (never a
    string from the chain pasted into a link)."""
    chain, _, address = node.rpartition(":")
    chain = chain or "eth"
    if chain in EXPLORERS and _EVM_ADDRESS.match(address):
        return f"{EXPLORERS[chain]}/address/{address}"
    if chain in ("btc", "bitcoin") and _BTC_ADDRESS.match(address):
        return f"{BITCOIN_EXPLORER}/address/{address}"
    return ""


def tx_link(tx_hash: str, chain: str = "eth") -> str:
    if chain == "btc":
        return f"{BITCOIN_EXPLORER}/tx/{tx_hash}" if _BTC_TXID.match(tx_hash) else ""
    return f"{EXPLORERS[chain]}/tx/{tx_hash}" if chain in EXPLORERS and _TX_HASH.match(tx_hash) else ""


def _lane(node: str) -> str:
    """Which chain's lane a node is drawn in: Bitcoin's below Ethereum's (and the chains it reaches by bridge)."""
    return "btc" if node.startswith("btc:") else "eth"


def _taint_units(d: dict, lane: str) -> tuple[int, str]:
    """(what reached a node in its own coin's base units, that amount as text with its coin)."""
    if lane == "btc":
        sats = int(d.get("taint_sats", "0") or 0)
        return sats, f"{format_amount(sats, 8)} BTC"
    wei = int(d.get("taint_wei", "0") or 0)
    return wei, f"{format_amount(wei, 18)} ETH"


def _node_size(taint_wei: int) -> float:
    return round(min(90.0, 14.0 + 9.0 * math.log10(1 + taint_wei / 10**18)), 1)


def short_address(node: str) -> str:
    """0x1234…abcd (with its chain prefix where it has one): what a node without a label is called."""
    chain, _, address = node.rpartition(":")
    short = address if len(address) <= 14 else f"{address[:6]}…{address[-4:]}"
    return f"{chain}:{short}" if chain else short


def _day(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def _chosen_nodes(graph: nx.MultiDiGraph, max_nodes: int) -> set[str]:
    """All nodes when they fit; else seeds first, then by traced value, then by hop: a readable picture
    of where most of the value went. Poisoning nodes get at most a quarter of the room."""
    if graph.number_of_nodes() <= max_nodes:
        return set(graph.nodes)

    def rank(item):
        node, d = item
        return (d.get("category") != "seed", -int(d.get("taint_wei", "0")), d.get("hop", -1) < 0, d.get("hop", 0), node)

    clean = sorted(((n, d) for n, d in graph.nodes(data=True) if d.get("category") != "poison"), key=rank)
    poison = sorted(((n, d) for n, d in graph.nodes(data=True) if d.get("category") == "poison"), key=rank)
    room_for_poison = min(len(poison), max_nodes // 4)
    chosen = [n for n, _ in clean[: max_nodes - room_for_poison]]
    chosen += [n for n, _ in poison[: max_nodes - len(chosen)]]
    return set(chosen)


def fan_folds(nodes: list[dict], edges: list[dict]) -> list[dict]:
    """Fan-outs and fan-ins drawn as one group node: FOLD_MIN or more alike edges (one kind, one asset,
    amounts within a factor of two of the fan's median) from one node to plain addresses (not services,
    not contracts) of one hop and chain, or from such addresses into one. The 40 × 10,000 ETH the Bybit
    exploiter sent out in its first hour is one group, not a fan of 40 dots.

    What an investigator acts on stays drawn on its own: seeds, exits (exchanges, bridges, mixers, DEXes,
    services, destinations), contracts, poisoning; and an address that took far more (or less) than its
    siblings, e.g. the one wallet the trail goes on from among dust. A node is folded into one group at
    most (the biggest fan-out it belongs to, then the biggest fan-in). Deterministic, so two nights'
    charts fold alike."""
    by_id = {n["id"]: n for n in nodes}
    fans: dict[tuple, dict[str, int]] = defaultdict(dict)
    symbols = {e["token"]: e["asset"] for e in edges}
    for e in edges:
        if e["poison"] or e["kind"] in ("swap", "inferred", "co-spend", "bridge") or e["source"] == e["target"]:
            continue
        for end, member, side in ((e["source"], e["target"], "out"), (e["target"], e["source"], "in")):
            m = by_id[member]
            if m["category"] in FOLDABLE:
                key = (side, end, e["token"], e["kind"], m["hop"], m["lane"])
                fans[key][member] = fans[key].get(member, 0) + int(e["units"])
    folded: set[str] = set()
    folds = []
    for key, amounts in sorted(fans.items(), key=lambda kv: (kv[0][0] != "out", -len(kv[1]), kv[0])):
        free = {m: units for m, units in amounts.items() if m not in folded and m != key[1]}
        if len(free) < FOLD_MIN:
            continue
        median = sorted(free.values())[len(free) // 2]
        alike = sorted(m for m, units in free.items() if median <= 2 * units and units <= 2 * median)
        if len(alike) < FOLD_MIN:
            continue
        side, end, token, kind, hop, lane = key
        folded.update(alike)
        folds.append({"id": f"fold{len(folds)}", "side": side, "end": end, "asset": symbols[token], "kind": kind,
                      "hop": hop, "category": "address", "lane": lane, "members": alike,
                      "colour": CATEGORY_COLOURS["eoa"]})
    return folds


def graph_elements(graph: nx.MultiDiGraph, max_nodes: int, decimals: dict[str, int]) -> dict:
    """Nodes and edges as the browser draws them: parallel transfers of one asset between two nodes
    become one edge listing its transactions, with the exact sum, the traced value and the days it
    moved on; fan-outs are grouped (fan_folds). The browser lays them out (dagre): nothing is placed here."""
    chosen = _chosen_nodes(graph, max_nodes)
    totals: dict[str, dict[tuple[str, int], list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    grouped: dict[tuple, dict] = {}
    deposit_taint: dict[tuple[str, str], int] = defaultdict(int)  # (sender, tx) -> ETH-class traced value sent
    for u, v, key, d in graph.edges(keys=True, data=True):
        poison = bool(_flags_set(d["flags"]) & POISON_FLAGS)
        # traced value compared across the chart: of ETH and ETH-pegged tokens only (taint.asset_class);
        # asked only of edges from a drawn node (a big case has far more edges than those)
        eth_class = u in chosen and d["kind"] != "bridge" and wei_equivalent(d["token"], 0) is not None
        if not poison and d["kind"] not in ("swap", "inferred"):
            dec = decimals.get(d["token"], 18)
            if u in chosen:  # totals only for the nodes drawn: a big case has far more edges than them
                totals[u][(d["asset"], dec)][1] += int(d["amount"])
            if v in chosen:
                totals[v][(d["asset"], dec)][0] += int(d["amount"])
        if eth_class and d.get("taint_wei", "0") != "0":
            deposit_taint[(u, d["tx_hash"])] += int(d["taint_wei"])  # what a bridge deposit in this tx carried
        if u not in chosen or v not in chosen:
            continue
        # (keyed by token, not symbol: two tokens may share a symbol and not their decimals)
        group = grouped.setdefault((u, v, d["token"], d["kind"], poison), {
            "source": u, "target": v, "asset": d["asset"], "token": d["token"], "kind": d["kind"], "poison": poison,
            "amount": 0, "decimals": decimals.get(d["token"], 18), "value": 0.0, "count": 0, "txs": [], "flags": set(),
            "received": 0, "taint": 0, "by_day": defaultdict(lambda: [0, 0, 0.0]), "deposits": [],
        })
        if d["kind"] == "bridge":
            group["deposits"].append(d["tx_hash"])  # carries its deposit's traced value (below)
            if d.get("received_asset") == "BTC":
                group["received"] += int(d.get("received_amount") or 0)  # a crossing into Bitcoin, verified
        elif eth_class:
            group["taint"] += int(d.get("taint_wei") or 0)
        group["amount"] += int(d["amount"])
        group["value"] += float(d["value"])
        group["count"] += 1
        day = group["by_day"][_day(int(d["timestamp"]))]
        day[0] += int(d["amount"])
        day[1] += 1
        day[2] += float(d["value"])
        group["flags"].update(_flags_set(d["flags"]))
        if len(group["txs"]) < TX_PER_EDGE:
            chain = "btc" if d["kind"] in ("utxo", "co-spend") else "eth"
            group["txs"].append({"tx_hash": d["tx_hash"], "log_index": int(d["log_index"]), "block": int(d["block"]),
                                 "link": tx_link(d["tx_hash"], chain)})
    hops = [d.get("hop", -1) for n, d in graph.nodes(data=True) if n in chosen]
    last_hop = max(hops, default=0)
    nodes = []
    # seeds first, then by hop, then by traced value: the order dagre meets them in, so the picture is stable
    for n, d in sorted(((n, d) for n, d in graph.nodes(data=True) if n in chosen), key=lambda nd: (
            nd[1].get("hop", -1) < 0, nd[1].get("hop", -1), -int(nd[1].get("taint_wei", "0") or 0), nd[0])):
        lane = _lane(n)
        units, shown = _taint_units(d, lane)
        category = d.get("category", "unknown")
        nodes.append({
            "id": n, "name": d.get("label", "") or short_address(n), "label": d.get("label", ""),
            "label_source": d.get("label_source", ""), "category": category, "hop": int(d.get("hop", -1)),
            "lane": lane, "followed": bool(d.get("followed", False)), "flags": d.get("flags", ""),
            "taint_wei": d.get("taint_wei", "0"), "taint_sats": d.get("taint_sats", "0"), "taint": shown,
            "taint_units": str(units), "unit": "BTC" if lane == "btc" else "ETH",
            # (size by the amount in its own coin: 1 BTC drawn as 1 ETH; the numbers are in the panel)
            "size": 40.0 if category == "seed" else _node_size(units * 10**10 if lane == "btc" else units),
            "colour": CATEGORY_COLOURS.get(category, "#7f8c9a"),
            "shape": CATEGORY_SHAPES.get(category, "ellipse"),
            "exit": category in EXIT_CATEGORIES,
            "link": address_link(n),
            "totals": [{"asset": a, "in": format_amount(t[0], dec), "out": format_amount(t[1], dec)}
                       for (a, dec), t in sorted(totals[n].items())],
        })
    # one colour per asset that carries value (spam is grey): ETH blue, the others by name
    clean_assets = sorted({g["asset"] for g in grouped.values() if not g["poison"]} - {"ETH"})
    assets = {"ETH": ASSET_COLOURS[0], **{a: ASSET_COLOURS[1 + i % (len(ASSET_COLOURS) - 1)]
                                         for i, a in enumerate(clean_assets)}}
    edges = []
    for i, g in enumerate(grouped.values()):
        g["taint"] += sum(deposit_taint.get((g["source"], tx), 0) for tx in dict.fromkeys(g["deposits"]))
        days = sorted(g["by_day"])
        edges.append({
            "id": f"e{i}", "source": g["source"], "target": g["target"], "asset": g["asset"], "token": g["token"],
            "kind": g["kind"], "poison": g["poison"], "amount": format_amount(g["amount"], g["decimals"]),
            "units": str(g["amount"]), "decimals": g["decimals"], "value": g["value"], "taint": str(g["taint"]),
            # what moved on each day (UTC), for the date filter's sums: units, transfers, whole tokens
            "days": days, "day_units": [str(g["by_day"][day][0]) for day in days],
            "day_counts": [g["by_day"][day][1] for day in days], "day_values": [g["by_day"][day][2] for day in days],
            "count": g["count"], "txs": g["txs"], "flags": ",".join(sorted(g["flags"])),
            "crossing": g["kind"] == "bridge" and g["target"].startswith("btc:"),
            "received": f"{format_amount(g['received'], 8)} BTC" if g["received"] else "",
            "colour": "#b8b8b8" if g["poison"] else assets.get(g["asset"], ASSET_COLOURS[0]),
        })
    all_days = sorted({day for e in edges for day in e["days"]})
    return {"nodes": nodes, "edges": edges, "folds": fan_folds(nodes, edges), "fold_min": FOLD_MIN,
            "total_nodes": graph.number_of_nodes(), "max_nodes": max_nodes,
            "lanes": sorted({n["lane"] for n in nodes}),
            "total_edges": graph.number_of_edges(), "max_hop": last_hop,
            "first_day": all_days[0] if all_days else "", "last_day": all_days[-1] if all_days else "",
            "assets": sorted({e["asset"] for e in edges}),
            "asset_colours": {e["asset"]: e["colour"] for e in edges if not e["poison"]}}


def case_report(store: Store, model: str = "haircut", max_nodes: int = 1500) -> dict:
    from .graph import build_graph
    from .report import exits_table
    from .taint import compute

    taint = compute(store, model)
    graph = build_graph(store, model, taint)
    exits = exits_table(store, model, 1, graph=graph, taint=taint)
    decimals = {"ETH": 18, **dict(store.conn.execute("SELECT token, max(decimals) FROM transfers GROUP BY token"))}
    seeds = []
    known = seed_index()
    for (address,) in store.conn.execute("SELECT address FROM addresses WHERE hop=0 ORDER BY address"):
        entry = known.get(address)
        seeds.append({
            "address": address, "label": entry.label if entry else "", "role": entry.role if entry else "",
            "attribution": entry.attribution if entry else "given on the command line",
            "sources": [asdict(s) for s in entry.sources] if entry else [],
            "link": address_link(address),
        })
    runs = [dict(r) for r in store.conn.execute(
        "SELECT id, started_at, ended_at, status, params, head_block, requests, new_transfers, new_addresses,"
        " followed_addresses FROM runs ORDER BY id")]
    for r in runs:
        r["params"] = json.loads(r["params"] or "{}")
    last_ok = next((r for r in reversed(runs) if r["status"] == "ok"), None)
    return {
        "generated_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "store": store.name,
        "taint_model": model,
        "graph": graph_elements(graph, max_nodes, decimals),
        "exits": exits,
        "seeds": seeds,
        "news": whats_new(store).to_json(),
        "runs": runs,
        "parameters": last_ok["params"] if last_ok else {},
        "last_run": last_ok,
    }
