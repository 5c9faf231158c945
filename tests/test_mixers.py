"""Candidate Tornado Cash withdrawals for traced deposits: each heuristic on the anvil scenario."""

import json

import networkx as nx
import pytest

from helpers import run_cli
from tracer.mixers import Deposit, TxInfo, Withdrawal, propose_links


@pytest.fixture(scope="module")
def linked(scenario_chain, tmp_path_factory):
    node, s = scenario_chain
    tmp = tmp_path_factory.mktemp("mixers")
    db, graphml = tmp / "case.db", tmp / "trail.graphml"
    result = run_cli("trace", s.seed, "--db", db, "--source", "rpc", "--rpc-url", node.url, "--json", "--quiet",
                     "--follow-mixer-links", "0.5", "--graphml", graphml)
    assert result.exit_code == 0, result.output
    links = json.loads(run_cli("mixer-links", "--db", db, "--rpc-url", node.url, "--json").stdout)
    return s, db, links, nx.read_graphml(graphml, force_multigraph=True), json.loads(result.stdout)


def best(links, withdrawal_tx):
    found = [link for link in links if link["withdrawal_tx"] == withdrawal_tx]
    return max(found, key=lambda link: link["confidence"]) if found else None


def test_same_address(linked):
    s, _, links, _, _ = linked
    link = best(links, s.withdrawals["same"])
    assert "same-address" in link["heuristics"] and link["confidence"] >= 0.95


def test_linked_addresses(linked):
    s, _, links, _, _ = linked
    link = best(links, s.withdrawals["linked"])
    assert "linked-addresses" in link["heuristics"] and link["confidence"] >= 0.8


def test_unique_gas_price(linked):
    s, _, links, _, _ = linked
    link = best(links, s.withdrawals["gas"])
    assert "unique-gas-price" in link["heuristics"] and link["deposit_tx"] == s.exits["tornado"]


def test_multi_denomination(linked):
    s, _, links, _, _ = linked
    for role in ("multi-100", "multi-10"):
        link = best(links, s.withdrawals[role])
        assert "multi-denomination" in link["heuristics"] and link["confidence"] >= 0.7


def test_an_unrelated_withdrawal_is_at_most_a_weak_temporal_candidate(linked):
    s, _, links, _, _ = linked
    link = best(links, s.withdrawals["stranger"])
    assert link is None or (link["heuristics"] == "temporal-fifo" and link["confidence"] < 0.5)


def test_inferred_edges_are_never_facts(linked):
    s, _, _, graph, _ = linked
    inferred = [(u, v, d) for u, v, d in graph.edges(data=True) if d["kind"] == "inferred"]
    assert inferred
    for u, v, d in inferred:
        assert u == s.mixer_user and "inferred" in d["flags"] and 0 < d["confidence"] < 1
        assert d["heuristics"] and d["taint_wei"] == "0"
    facts = [d for _, _, d in graph.edges(data=True) if d["kind"] in ("native", "internal", "erc20")]
    assert all(d["confidence"] == 1.0 for d in facts)


def test_following_links_above_the_threshold(linked):
    s, _, _, graph, summary = linked
    assert graph.nodes[s.gas_twin]["followed"] and graph.nodes[s.multi]["followed"]
    assert graph.nodes[s.gas_twin]["hop"] == 2
    assert s.stranger not in graph or not graph.nodes[s.stranger]["followed"]
    assert sum(h["mixer_links"] for h in summary["hops"]) > 0


def test_heuristics_unit():
    d = Deposit("0xd", "0xpool", "0xaaa", 10, 1000, 100)
    w_same = Withdrawal("0xw1", 0, "0xpool", "0xaaa", "0xr", 1, 11, 1100)
    w_late = Withdrawal("0xw2", 0, "0xpool", "0xaaa", "0xr", 1, 99, 10**9)
    w_gas = Withdrawal("0xw3", 0, "0xpool", "0xbbb", "0xr", 1, 12, 1200)
    info = {"0xd": TxInfo(True, 7), "0xw3": TxInfo(True, 7), "0xw1": TxInfo(False, 1)}
    links = propose_links([d], [w_same, w_late, w_gas], 86_400, {}, info)
    by_w = {link.withdrawal.tx_hash: link for link in links}
    assert "0xw2" not in by_w  # outside the window
    assert by_w["0xw1"].heuristics == ["same-address", "temporal-fifo"]
    assert by_w["0xw3"].heuristics == ["unique-gas-price"]
    assert by_w["0xw1"].confidence > by_w["0xw3"].confidence
