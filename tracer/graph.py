"""The graph layer: a networkx MultiDiGraph built from the store, and its exports.

One schema for every format (see README "Graph schema"), with plain typed
values only (no None, no lists), because Gephi, Cytoscape and yEd reject
or silently drop anything else in GraphML.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import networkx as nx

from .btc import CHANGE_FLAG, COINJOIN_FLAG, FEE, change_flags
from .labels import annotation_flags, best_label, current_category, display_label, known_code, on_trail
from .models import POISON_FLAGS, to_float
from .safe_text import for_file, for_spreadsheet
from .store import Store, _flags_set
from .tokens import lookup

FORMATS = ("graphml", "gexf", "csv", "json", "neo4j")
NODE_FIELDS = ("label", "label_source", "category", "hop", "is_contract", "followed", "flags", "taint_wei",
               "taint_eth", "taint_sats")
EDGE_FIELDS = ("tx_hash", "log_index", "block", "timestamp", "kind", "asset", "token", "amount", "value", "flags",
               "taint_wei")
OPTIONAL_EDGE_FIELDS = ("memo", "dest_chain", "dest_address", "dest_asset", "vault", "protocol", "venue",
                        "sent_asset", "sent_amount", "received_asset", "received_amount", "heuristics", "deposit_tx")


def build_graph(store: Store, taint_model: str = "haircut", taint=None) -> nx.MultiDiGraph:
    """Everything the store's traces reached: the trail out of each followed address
    (from the block traced value reached it) and what flowed into it; decoded bridge
    exits as edges to their destinations on other chains; swaps as self-edges; and
    how much traced value reached each node (see taint.py)."""
    from .taint import compute

    taint = taint or compute(store, taint_model)
    conn = store.conn
    addresses = {r["address"]: r for r in conn.execute("SELECT * FROM addresses")}
    imported = store.imported_label_map()
    # what the current labels call a service is an endpoint, even if a trace followed it before the label came
    followed = {a: (r["reach_block"] or 0) for a, r in addresses.items()
                if on_trail(a, r["followed"], r["hop"], imported.get(a))}
    graph = nx.MultiDiGraph()
    has_clean_edge: set[str] = set()  # a node whose every edge is poisoning is itself poison
    mixed: dict[str, str] = {}  # a Bitcoin output's address -> the kind of CoinJoin that paid it
    columns = "id, tx_hash, log_index, block, timestamp, kind, asset, token, amount, decimals, flags, from_addr, to_addr"
    rows = conn.cursor()
    rows.row_factory = None  # plain tuples: a million named rows cost seconds
    for key, tx_hash, log_index, block, timestamp, kind, asset, token, amount, decimals, flags, src, dst in \
            rows.execute(f"SELECT {columns} FROM transfers ORDER BY block, id"):
        if not ((src in followed and block >= followed[src]) or (dst in followed and block >= followed[dst])):
            continue
        if kind == FEE:
            continue  # a Bitcoin transaction's fee: kept for taint's arithmetic, not drawn (every spend has one)
        if not _flags_set(flags) & POISON_FLAGS:
            has_clean_edge.add(src)
            has_clean_edge.add(dst)
        units = int(amount)
        graph.add_edge(
            src, dst, key=key,
            tx_hash=tx_hash,
            log_index=log_index if log_index is not None else -1,
            block=int(block),
            timestamp=int(timestamp),
            kind=kind,
            asset=_file_text(asset),
            token=token,
            amount=amount,
            value=to_float(units, decimals),
            flags=flags,
            taint_wei=str(taint.edges.get(key, 0)),
        )
        if COINJOIN_FLAG in flags:  # an output of a CoinJoin: a mixer endpoint, as a Tornado pool is
            mixed[dst] = next((f[9:] for f in _flags_set(flags) if f.startswith("coinjoin-")), "")
        if CHANGE_FLAG in flags:  # (a substring test first: the row loop is hot)
            change = change_flags(_flags_set(flags))
            if change:  # a Bitcoin output read as its sender's change: why, and how sure
                graph.edges[src, dst, key].update(heuristics=change[0], confidence=change[1])
    _add_exits(graph, store)
    _add_swaps(graph, taint)
    _add_mixer_links(graph, store)
    venues = {r["venue"]: r["protocol"] for r in store.exit_rows()}
    for node in graph.nodes:
        attrs = graph.nodes[node]
        if "category" not in attrs:  # addresses (here or "<chain>:0x…" elsewhere); destinations come labelled
            attrs.update(_node_attributes(node, addresses.get(node), graph, imported.get(node), has_clean_edge,
                                          node in followed))
            if node in mixed and not attrs["followed"] and attrs["category"] in ("eoa", "unknown"):
                attrs["category"] = "mixer"
                if not attrs["label"]:
                    attrs["label"] = f"CoinJoin output ({mixed[node] or 'equal outputs'})"
                    attrs["label_source"] = "the paying transaction's shape (tracer.btc.coinjoin_kind, notes §4)"
            if node in venues and attrs["category"] in ("eoa", "unknown", "poison"):
                attrs["category"] = "bridge"  # a THORChain vault, known from the memos sent to it
                if not attrs["label"]:
                    attrs["label"] = f"{venues[node]} vault (inferred from deposits)"
                    attrs["label_source"] = "deposit memos and router events sent to it (see tracer exits)"
        reached = taint.eth(node)
        attrs["taint_wei"] = str(reached)
        attrs["taint_eth"] = to_float(reached, 18)
        attrs["taint_sats"] = str(taint.btc(node))  # traced value on Bitcoin (satoshis), see taint.py
    return graph


def _add_exits(graph: nx.MultiDiGraph, store: Store) -> None:
    """Bridge deposits with a decoded destination: an edge to <chain>:<address> (never followed)."""
    from .exits import Exit

    for r in store.exit_rows():
        if not r["dest_address"]:
            continue
        e = Exit(r["tx_hash"], r["log_index"], r["protocol"], r["venue"], r["depositor"], r["block"], r["timestamp"],
                 r["token"], int(r["amount"]), r["dest_chain"], r["dest_address"], r["dest_asset"], r["memo"])
        dest = _file_text(e.dest_node)
        if r["depositor"] not in graph or dest in (r["depositor"], ""):
            continue
        if dest not in graph:
            graph.add_node(dest, label=_file_text(f"{r['dest_asset'] or r['dest_chain']} via {r['protocol']}"),
                           label_source=f"decoded from transaction {r['tx_hash']}", category="destination",
                           hop=-1, is_contract=False, followed=False, flags="")
        token = r["token"]
        decimals = 18 if token == "ETH" else (lookup(token).decimals if lookup(token) else 18)
        graph.add_edge(
            r["depositor"], dest, key=f"{r['tx_hash']}:bridge:{r['log_index']}",
            tx_hash=r["tx_hash"], log_index=int(r["log_index"]), block=int(r["block"]),
            timestamp=int(r["timestamp"]), kind="bridge", asset="ETH" if token == "ETH" else
            (lookup(token).symbol if lookup(token) else token), token=token, amount=r["amount"],
            value=to_float(int(r["amount"]), decimals), flags=r["flags"], taint_wei="0",
            memo=_file_text(r["memo"]), dest_chain=_file_text(r["dest_chain"]),
            dest_address=_file_text(r["dest_address"]), dest_asset=_file_text(r["dest_asset"]),
            vault=r["venue"], protocol=r["protocol"],
        )
        outbound = json.loads(r["detail"] or "{}").get("btc_outbound") if r["dest_chain"] == "btc" else None
        if outbound and "verified" in (r["flags"] or "").split(","):  # what crossed, stated on both sides
            graph.edges[r["depositor"], dest, f"{r['tx_hash']}:bridge:{r['log_index']}"].update(
                received_asset="BTC", received_amount=str(store.btc_payout(r["tx_hash"], dest, outbound)))


def _add_mixer_links(graph: nx.MultiDiGraph, store: Store) -> None:
    """Candidate mixer withdrawals: kind "inferred", flag "inferred", with confidence and heuristics."""
    for r in store.link_rows():
        if r["depositor"] not in graph:
            continue
        if r["withdrawer"] not in graph:
            graph.add_node(r["withdrawer"])
        graph.add_edge(
            r["depositor"], r["withdrawer"], key=f"{r['deposit_tx']}:inferred:{r['withdrawal_tx']}",
            tx_hash=r["withdrawal_tx"], log_index=int(r["withdrawal_log"]), block=int(r["block"]),
            timestamp=int(r["timestamp"]), kind="inferred", asset="ETH", token="ETH", amount=r["amount"],
            value=to_float(int(r["amount"]), 18), flags="inferred", taint_wei="0", confidence=float(r["confidence"]),
            heuristics=r["heuristics"], deposit_tx=r["deposit_tx"], venue=r["pool"],
        )


def _add_swaps(graph: nx.MultiDiGraph, taint) -> None:
    """A swap as a self-edge on the address that swapped, with both legs."""
    for sw in taint.swaps:
        if sw.address not in graph:
            continue
        graph.add_edge(
            sw.address, sw.address, key=f"{sw.tx_hash}:swap:0",
            tx_hash=sw.tx_hash, log_index=-1, block=sw.sent.block, timestamp=sw.sent.timestamp, kind="swap",
            asset=_file_text(f"{sw.sent.asset}->{sw.received.asset}"), token=sw.received.token,
            amount=str(sw.received.amount), value=to_float(sw.received.amount, sw.received.decimals), flags="",
            taint_wei="0", venue=sw.venue, sent_asset=_file_text(sw.sent.asset), sent_amount=str(sw.sent.amount),
            received_asset=_file_text(sw.received.asset), received_amount=str(sw.received.amount),
        )


def _node_attributes(address: str, row, graph: nx.MultiDiGraph, imported, has_clean_edge: set[str],
                     followed: bool) -> dict:
    label, label_source = display_label(address, imported)
    curated = best_label(address, imported)
    hop = row["hop"] if row is not None and row["hop"] is not None else -1
    code_kind = (row["code_kind"] if row is not None else None) or known_code(address)
    category = row["category"] if row is not None and row["category"] and hop >= 0 else None
    category = current_category(address, category, imported)  # the labels of now, not of the trace
    if category is None:
        if address not in has_clean_edge and graph.degree(address):
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
        "label": _file_text(label),
        "label_source": _file_text(label_source),
        "category": category,
        "hop": int(hop),
        "is_contract": code_kind in ("contract", "wallet-contract"),
        "followed": followed,
        "flags": ",".join(flags),
    }


def _file_text(value):
    """safe_text.for_file on text (only where needed: plain printable text is most of a graph)."""
    return for_file(value) if type(value) is str and not value.isprintable() else value


def _file_attrs(data: dict) -> dict:
    if all(type(v) is not str or v.isprintable() for v in data.values()):
        return data
    return {name: _file_text(value) for name, value in data.items()}


class _ForFiles:
    """The graph as a streaming writer reads it (nodes(data=True), edges(keys=True, data=True)), with
    every text value and id through safe_text.for_file; nothing copied for a node or edge of plain text."""

    def __init__(self, graph: nx.MultiDiGraph):
        self._graph = graph

    def nodes(self, data: bool = False):
        for n, d in self._graph.nodes(data=True):
            yield (_file_text(n), _file_attrs(d)) if data else _file_text(n)

    def edges(self, keys: bool = False, data: bool = False):
        for u, v, k, d in self._graph.edges(keys=True, data=True):
            head = (_file_text(u), _file_text(v), *((_file_text(k),) if keys else ()))
            yield (*head, _file_attrs(d)) if data else head


def export(graph: nx.MultiDiGraph, fmt: str, out: str | Path) -> list[Path]:
    """Write the graph; returns the files written.

    Untrusted text (labels, token symbols, memos, destinations) is written in every format as
    safe_text.for_file gives it: control, bidi, zero-width and line-separator characters as visible
    \\xNN / \\uXXXX text, so no viewer shows one symbol for another, a line break never enters a
    value, and the XML formats stay valid whatever a token calls itself. CSV cells are also
    neutralised for spreadsheets (for_spreadsheet)."""
    out = Path(out)
    # Every edge carries every attribute ("" where it does not apply; confidence 1.0 for facts):
    # some readers take a missing value as an error, and typed keys need one type per name.
    defaults = {**{f: "" for f in OPTIONAL_EDGE_FIELDS}, "confidence": 1.0}
    if fmt == "graphml":
        from .graphml import write_graphml

        write_graphml(graph, out, defaults)  # streams, applying for_file itself; networkx reads it back identically
        return [out]
    if fmt == "gexf":
        from .gexf import write_gexf

        write_gexf(_ForFiles(graph), out, defaults)
        return [out]
    if fmt == "json":
        doc = {
            "directed": True,
            "multigraph": True,
            "nodes": [{"id": _file_text(n), **_file_attrs(d)} for n, d in graph.nodes(data=True)],
            "edges": [{"key": _file_text(k), "source": _file_text(u), "target": _file_text(v), **_file_attrs(d)}
                      for u, v, k, d in graph.edges(keys=True, data=True)],
        }
        out.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
        return [out]
    if fmt == "csv":
        nodes_path = out.with_name(out.stem + ".nodes.csv")
        with open(out, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            extra = (*OPTIONAL_EDGE_FIELDS, "confidence")
            w.writerow(("key", "source", "target", *EDGE_FIELDS, *extra))
            for u, v, k, d in graph.edges(keys=True, data=True):
                row = (k, u, v, *(d[f] for f in EDGE_FIELDS), *(d.get(f, defaults[f]) for f in extra))
                w.writerow([for_spreadsheet(_file_text(x)) for x in row])
        with open(nodes_path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(("id", *NODE_FIELDS))
            for n, d in graph.nodes(data=True):
                w.writerow([for_spreadsheet(_file_text(x)) for x in (n, *(d.get(f, "") for f in NODE_FIELDS))])
        return [out, nodes_path]
    if fmt == "neo4j":  # `out` is a directory: nodes.csv, relationships.csv, queries.cypher
        from .neo4j import write_neo4j

        return write_neo4j(graph, out, NODE_FIELDS, (*EDGE_FIELDS, *OPTIONAL_EDGE_FIELDS, "confidence"), defaults,
                           _file_text)
    raise ValueError(f"unknown format {fmt}")
