"""Graphs shaped as tracer.graph.build_graph makes them, and their HTML reports, without a store: for the
flow chart's tests on a hand-made graph and for benchmarks/report_layout.py at 500 and 5,000 nodes."""

from __future__ import annotations

import random
from pathlib import Path

import networkx as nx

ETHER = 10**18
DAY0 = 1_740_096_000  # 2025-02-21 00:00 UTC


def add_node(graph: nx.MultiDiGraph, node: str, hop: int, category: str = "eoa", taint_wei: int = 0,
             label: str = "") -> None:
    graph.add_node(node, label=label, label_source="a test" if label else "", category=category, hop=hop,
                   is_contract=False, followed=category in ("seed", "eoa"), flags="", taint_wei=str(taint_wei),
                   taint_eth=taint_wei / ETHER, taint_sats="0")


def add_transfer(graph: nx.MultiDiGraph, src: str, dst: str, wei: int, taint_wei: int | None = None,
                 day: int = 0, asset: str = "ETH", token: str = "ETH", decimals: int = 18, kind: str = "native",
                 tx_hash: str | None = None) -> None:
    """A transfer as build_graph adds it; taint_wei is the traced value it carried (its class's units)."""
    key = f"0x{graph.number_of_edges():064x}"
    graph.add_edge(src, dst, key=key, tx_hash=tx_hash or key, log_index=-1,
                   block=21_895_000 + graph.number_of_edges(), timestamp=DAY0 + day * 86_400, kind=kind,
                   asset=asset, token=token, amount=str(wei), value=wei / 10**decimals, flags="",
                   taint_wei=str(wei if taint_wei is None else taint_wei))


def report_from_graph(graph: nx.MultiDiGraph, out: Path, max_nodes: int = 5_000,
                      decimals: dict[str, int] | None = None) -> Path:
    """The HTML report of a graph alone: no store, so no exits table, news, seeds or runs."""
    from tracer.case_report import graph_elements
    from tracer.html_report import write_html

    report = {"generated_at": "2026-12-02 00:00:00 UTC", "store": "synthetic", "taint_model": "haircut",
              "graph": graph_elements(graph, max_nodes, {"ETH": 18, **(decimals or {})}), "exits": [], "seeds": [],
              "news": {"run_id": None}, "runs": [], "parameters": {}, "last_run": None}
    return write_html(report, out)


def hop_graph(nodes: int, seed: int = 1) -> nx.MultiDiGraph:
    """A theft's trail of about `nodes` addresses: a seed splitting into hops, each address paying one to
    five others of the next hop with a haircut of what it got, a few paying back across hops, and a tenth
    of the last hop's addresses exchanges. No fan-out is alike enough to fold, so every address is drawn."""
    rnd = random.Random(seed)
    graph = nx.MultiDiGraph()
    add_node(graph, "seed", 0, "seed", 400_000 * ETHER, "Exploiter")
    frontier, made, hop = [("seed", 400_000 * ETHER)], 1, 0
    while made < nodes:
        hop += 1
        nxt = []
        for src, value in frontier:
            for _ in range(rnd.randint(1, 5)):
                if made >= nodes:
                    break
                dst = f"0x{rnd.getrandbits(160):040x}"
                share = value // rnd.randint(2, 6) + rnd.randint(1, 10**15)
                exchange = rnd.random() < 0.1
                add_node(graph, dst, hop, "exchange" if exchange else "eoa", share,
                         f"Exchange deposit {made}" if exchange else "")
                add_transfer(graph, src, dst, share, day=hop)
                made += 1
                if not exchange:
                    nxt.append((dst, share))
        frontier = nxt or frontier
    members = list(graph.nodes)
    for _ in range(nodes // 20):  # value coming back to an earlier hop, as peel chains and consolidations do
        a, b = rnd.sample(members, 2)
        add_transfer(graph, a, b, rnd.randint(1, 100) * ETHER // 10, day=rnd.randint(1, 20))
    return graph
