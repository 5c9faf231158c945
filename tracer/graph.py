"""The graph layer: a networkx MultiDiGraph built from the store, and its exports.

One schema for every format (see README "Graph schema"), with plain typed
values only (no None, no lists), because Gephi, Cytoscape and yEd reject
or silently drop anything else in GraphML.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import networkx as nx

from .labels import annotation_flags, best_label
from .models import POISON_FLAGS, to_float
from .seeds import seed_index
from .store import Store, _flags_set
from .tokens import lookup

FORMATS = ("graphml", "gexf", "csv", "json")
NODE_FIELDS = ("label", "label_source", "category", "hop", "is_contract", "followed", "flags")
EDGE_FIELDS = ("tx_hash", "log_index", "block", "timestamp", "kind", "asset", "token", "amount", "value", "flags")

# XML 1.0 forbids most C0 controls and lone surrogates; a token may call itself anything.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _XML_FORBIDDEN.sub("\ufffd", text)


def build_graph(store: Store) -> nx.MultiDiGraph:
    """Everything the store's traces reached: the trail out of each followed address
    (from the block traced value reached it) and what flowed into it."""
    conn = store.conn
    addresses = {r["address"]: r for r in conn.execute("SELECT * FROM addresses")}
    followed = {a: (r["reach_block"] or 0) for a, r in addresses.items() if r["followed"]}
    graph = nx.MultiDiGraph()
    seeds = seed_index()
    imported = store.imported_label_map()
    for row in store.transfer_rows():
        src, dst, block = row["from_addr"], row["to_addr"], row["block"]
        if not ((src in followed and block >= followed[src]) or (dst in followed and block >= followed[dst])):
            continue
        amount = int(row["amount"])
        key = row["id"]
        graph.add_edge(
            src, dst, key=key,
            tx_hash=row["tx_hash"],
            log_index=row["log_index"] if row["log_index"] is not None else -1,
            block=int(block),
            timestamp=int(row["timestamp"]),
            kind=row["kind"],
            asset=_xml_safe(row["asset"]),
            token=row["token"],
            amount=str(amount),
            value=to_float(amount, row["decimals"]),
            flags=row["flags"],
        )
    for node in graph.nodes:
        graph.nodes[node].update(_node_attributes(node, addresses.get(node), graph, seeds, imported.get(node)))
    return graph


def _node_attributes(address: str, row, graph: nx.MultiDiGraph, seeds, imported) -> dict:
    label, label_source = "", ""
    curated = best_label(address, None)
    seed = seeds.get(address)
    if curated:
        label, label_source = curated.label, curated.source
    elif seed:
        label, label_source = seed.label, "; ".join(s.name for s in seed.sources)
    elif imported:
        curated = best_label(address, imported)
        label, label_source = curated.label, curated.source
    hop = row["hop"] if row is not None and row["hop"] is not None else -1
    code_kind = row["code_kind"] if row is not None else None
    category = row["category"] if row is not None and row["category"] and hop >= 0 else None
    if category is None:
        incident = list(graph.in_edges(address, data="flags")) + list(graph.out_edges(address, data="flags"))
        if incident and all(_flags_set(f) & POISON_FLAGS for _, _, f in incident):
            category = "poison"
        elif curated:
            category = curated.category
        elif lookup(address):
            category = "token"
        elif code_kind:
            category = {"eoa": "eoa", "contract": "contract", "wallet-contract": "wallet-contract"}[code_kind]
        else:
            category = "unknown"
    flags = annotation_flags(imported)
    if row is not None and row["flags"]:
        flags.append(row["flags"])
    if code_kind is None:
        flags.append("code-unchecked")
    return {
        "label": _xml_safe(label),
        "label_source": _xml_safe(label_source),
        "category": category,
        "hop": int(hop),
        "is_contract": code_kind in ("contract", "wallet-contract"),
        "followed": bool(row["followed"]) if row is not None else False,
        "flags": ",".join(flags),
    }


def export(graph: nx.MultiDiGraph, fmt: str, out: str | Path) -> list[Path]:
    """Write the graph; returns the files written."""
    out = Path(out)
    if fmt == "graphml":
        nx.write_graphml(graph, out, named_key_ids=True)
        return [out]
    if fmt == "gexf":
        nx.write_gexf(graph, out)
        return [out]
    if fmt == "json":
        doc = {
            "directed": True,
            "multigraph": True,
            "nodes": [{"id": n, **d} for n, d in graph.nodes(data=True)],
            "edges": [{"key": k, "source": u, "target": v, **d} for u, v, k, d in graph.edges(keys=True, data=True)],
        }
        out.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
        return [out]
    if fmt == "csv":
        nodes_path = out.with_name(out.stem + ".nodes.csv")
        with open(out, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(("key", "source", "target", *EDGE_FIELDS))
            for u, v, k, d in graph.edges(keys=True, data=True):
                w.writerow((k, u, v, *(d[f] for f in EDGE_FIELDS)))
        with open(nodes_path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(("id", *NODE_FIELDS))
            for n, d in graph.nodes(data=True):
                w.writerow((n, *(d[f] for f in NODE_FIELDS)))
        return [out, nodes_path]
    raise ValueError(f"unknown format {fmt}")
