"""Tracing through a real node: anvil with the laundering scenario laid on it."""

import json
import sqlite3

import networkx as nx
import pytest

from helpers import run_cli, store_snapshot

pytestmark = pytest.mark.usefixtures("scenario_chain")


def rpc_trace(url, db, *extra, seed):
    result = run_cli("trace", seed, "--db", db, "--source", "rpc", "--rpc-url", url, "--json", "--quiet", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result


@pytest.fixture(scope="module")
def rpc_traced(scenario_chain, tmp_path_factory):
    node, s = scenario_chain
    tmp = tmp_path_factory.mktemp("rpc")
    db, graphml = tmp / "case.db", tmp / "trail.graphml"
    summary, _ = rpc_trace(node.url, db, "--graphml", graphml, seed=s.seed)
    return s, summary, nx.read_graphml(graphml, force_multigraph=True), db, node


def test_every_movement_is_in_the_graph_with_its_hash_and_exact_amount(rpc_traced):
    s, _, graph, _, _ = rpc_traced
    edges = {(d["tx_hash"], d["kind"], u, v, d["token"]): d for u, v, d in graph.edges(data=True)}
    beyond_horizon = {s.peel[1]}  # at hop 3 of --hops 3: reached, not followed
    for m in s.movements:
        if m.src in beyond_horizon:
            assert (m.tx_hash, m.kind, m.src, m.dst, "ETH") not in edges
            continue
        token = "ETH" if m.token == "ETH" else m.token
        d = edges.get((m.tx_hash, m.kind, m.src, m.dst, token))
        assert d is not None, m
        assert int(d["amount"]) == m.amount


def test_hops(rpc_traced):
    s, _, graph, _, _ = rpc_traced
    hop = {n: d["hop"] for n, d in graph.nodes(data=True)}
    assert hop[s.seed] == 0
    assert all(hop[f] == 1 for f in s.fanout) and hop[s.safe] == 1
    assert hop[s.peel[0]] == 2 and hop[s.peel_exit] == 2 and hop[s.peel[1]] == 3
    assert s.peel[2] not in graph  # four hops out: beyond --hops 3
    assert hop[s.safe_payee] == 2  # reached only through the Safe's internal call
    assert hop[s.steth_hops[0]] == 2 and hop[s.steth_hops[1]] == 3
    assert hop[s.swap_payee] == 2  # the ETH the swap paid back moved on, and was followed


def test_internal_transfers_come_from_trace_filter(rpc_traced):
    s, summary, graph, db, _ = rpc_traced
    internal = [(u, v) for u, v, d in graph.edges(data=True) if d["kind"] == "internal"]
    assert (s.safe, s.safe_payee) in internal and (s.dex, s.fanout[2]) in internal
    conn = sqlite3.connect(db)
    assert {a for (a,) in conn.execute("SELECT DISTINCT action FROM cursors")} == {"rpc-logs", "rpc-traces"}
    conn.close()


def test_contract_wallets_are_followed_and_contracts_are_endpoints(rpc_traced):
    s, _, graph, _, _ = rpc_traced
    assert graph.nodes[s.safe]["category"] == "wallet-contract" and graph.nodes[s.safe]["followed"]
    assert graph.nodes[s.dex]["category"] == "contract" and not graph.nodes[s.dex]["followed"]
    assert graph.nodes["0x" + "00" * 20]["hop"] == -1  # where the seed's stETH came from: context, not trail


def test_poisoning_is_flagged_and_never_followed(rpc_traced):
    s, _, graph, _, _ = rpc_traced
    target = s.poison_target
    flags = [d["flags"] for u, v, d in graph.edges(data=True) if v == target]
    assert any("counterfeit" in f for f in flags) and any("zero-value" in f for f in flags)
    assert all("lookalike" in f for f in flags)
    assert graph.nodes[target]["category"] == "poison" and not graph.nodes[target]["followed"]


def test_reverted_transactions_move_nothing(rpc_traced):
    s, _, graph, _, _ = rpc_traced
    assert all(d["tx_hash"] != s.failed_tx for _, _, d in graph.edges(data=True))


def test_calls_per_hop_do_not_grow_with_the_frontier(rpc_traced):
    _, summary, _, _, _ = rpc_traced
    # per hop: one getLogs each way and one trace_filter each way, over the whole frontier
    assert summary["requests"] < 40


def test_explorer_and_node_give_the_same_transfers(rpc_traced, tmp_path):
    """The same chain through an explorer (an independent indexer of it) and through the node."""
    from chain_indexer import index_chain
    from explorer_server import ExplorerServer

    s, _, _, rpc_db, node = rpc_traced
    with ExplorerServer(index_chain(node)) as server:
        result = run_cli("trace", s.seed, "--db", tmp_path / "explorer.db", "--explorer-url", server.url,
                         "--rate", "500", "--json", "--quiet")
        assert result.exit_code == 0, result.output
    explorer_view = store_snapshot(tmp_path / "explorer.db")
    node_view = store_snapshot(rpc_db)
    assert len(node_view["transfers"]) > 15
    assert explorer_view["transfers"] == node_view["transfers"]
    # the same addresses at the same hops, reached at the same blocks, followed alike ...
    reach = lambda view: [(a, hop, block, followed) for a, _, _, hop, block, followed, _ in view["addresses"]]  # noqa: E731
    assert reach(explorer_view) == reach(node_view)
    # ... and wherever the explorer spent a call on an address's code, it agrees with the node
    node_kinds = {a: kind for a, _, kind, *_ in node_view["addresses"]}
    explorer_kinds = {a: kind for a, _, kind, *_ in explorer_view["addresses"] if kind is not None}
    assert explorer_kinds and all(node_kinds[a] == kind for a, kind in explorer_kinds.items())
