"""Swaps, bridges, mixers and taint on the anvil scenario (real events at the real contract addresses)."""

import json

import networkx as nx
import pytest

from helpers import run_cli
from scenario import BTC_DEST, BTC_DEST_2, STETH, THOR_ROUTER, TORNADO_100
from tracer.store import Store
from tracer.taint import ETH_CLASS, compute

ETHER = 10**18


@pytest.fixture(scope="module")
def traced(scenario_chain, tmp_path_factory):
    node, s = scenario_chain
    tmp = tmp_path_factory.mktemp("exits")
    db, graphml = tmp / "case.db", tmp / "trail.graphml"
    result = run_cli("trace", s.seed, "--db", db, "--source", "rpc", "--rpc-url", node.url, "--json", "--quiet",
                     "--graphml", graphml)
    assert result.exit_code == 0, result.output
    return s, db, nx.read_graphml(graphml, force_multigraph=True)


def bridge_edges(graph):
    return {k: (u, v, d) for u, v, k, d in graph.edges(keys=True, data=True) if d["kind"] == "bridge"}


def test_thorchain_router_deposit_decodes_to_its_bitcoin_destination(traced):
    s, _, graph = traced
    (u, v, d), = [e for k, e in bridge_edges(graph).items() if k.startswith(s.exits["router"])]
    assert u == s.fanout[4] and v == f"btc:{BTC_DEST}"
    assert d["memo"] == s.router_memo and d["dest_asset"] == "BTC.BTC" and d["vault"] == s.vault
    assert int(d["amount"]) == 8 * ETHER and d["protocol"] == "thorchain"
    assert graph.nodes[v]["category"] == "destination"
    assert graph.nodes[THOR_ROUTER]["category"] == "bridge" and not graph.nodes[THOR_ROUTER]["followed"]


def test_thorchain_vault_transfer_with_memo(traced):
    s, _, graph = traced
    (u, v, d), = [e for k, e in bridge_edges(graph).items() if k.startswith(s.exits["vault"])]
    assert u == s.fanout[5] and v == f"btc:{BTC_DEST_2}" and d["memo"] == s.vault_memo
    assert graph.nodes[s.vault]["category"] == "bridge" and not graph.nodes[s.vault]["followed"]


def test_malformed_memo_is_kept_raw_and_flagged(traced):
    s, db, _ = traced
    store = Store.open(db)
    row = store.conn.execute("SELECT memo, flags, dest_address FROM exits WHERE tx_hash=?",
                             (s.exits["bad_memo"],)).fetchone()
    store.close()
    assert row["memo"] == s.bad_memo and "malformed-memo" in row["flags"] and row["dest_address"] == ""


def test_tornado_deposit_is_a_mixer_exit_with_its_denomination(traced):
    s, db, graph = traced
    store = Store.open(db)
    row = store.conn.execute("SELECT * FROM exits WHERE protocol='tornado'").fetchone()
    store.close()
    assert row["venue"] == TORNADO_100 and row["depositor"] == s.mixer_user
    assert int(row["amount"]) == 100 * ETHER and json.loads(row["detail"])["denomination"] == str(100 * ETHER)
    assert graph.nodes[TORNADO_100]["category"] == "mixer" and not graph.nodes[TORNADO_100]["followed"]


def test_swap_is_followed_through(traced):
    s, _, graph = traced
    f3 = s.fanout[2]
    (d,) = [d for u, v, d in graph.edges(data=True) if d["kind"] == "swap"]
    assert d["sent_asset"] == "stETH" and d["received_asset"] == "ETH" and d["venue"] == s.dex
    assert int(d["sent_amount"]) == 100 * ETHER and int(d["received_amount"]) == 99 * ETHER
    onward = [d for u, v, d in graph.edges(data=True) if u == f3 and v == s.swap_payee]
    assert onward and int(onward[0]["taint_wei"]) > 0  # the swap's ETH carried the taint on
    assert graph.nodes[s.swap_payee]["hop"] == 2


def test_haircut_taint_is_conserved(traced):
    s, db, graph = traced
    store = Store.open(db)
    taint = compute(store, "haircut")
    followed = {r[0] for r in store.conn.execute("SELECT address FROM addresses WHERE followed=1 AND hop>0")}
    seeds = {s.seed}
    store.close()
    left_seed = taint.from_seeds[ETH_CLASS]
    held = sum(taint.held[a][ETH_CLASS] for a in followed)
    at_endpoints = sum(v[ETH_CLASS] for a, v in taint.reached.items() if a not in followed and a not in seeds)
    assert left_seed == held + at_endpoints  # to the wei
    assert left_seed == (6 * 10 + 20 + 250 + 300 + 100) * ETHER  # ETH and stETH out of the seed


def test_poison_model_is_an_upper_bound(traced):
    _, db, _ = traced
    store = Store.open(db)
    haircut, poison = compute(store, "haircut"), compute(store, "poison")
    store.close()
    for address, classes in haircut.reached.items():
        assert poison.reached[address][ETH_CLASS] >= classes[ETH_CLASS]


def test_exits_command_ranks_and_shows_destinations(traced):
    s, db, _ = traced
    rows = json.loads(run_cli("exits", "--db", db, "--json").stdout)
    by_address = {r["address"]: r for r in rows}
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert [int(r["taint_wei"]) for r in rows] == sorted((int(r["taint_wei"]) for r in rows), reverse=True)
    router = by_address[THOR_ROUTER]
    assert router["kind"] == "bridge" and int(router["taint_wei"]) == 8 * ETHER
    assert [d["dest_address"] for d in router["destinations"]] == [BTC_DEST]
    assert by_address[TORNADO_100]["kind"] == "mixer" and int(by_address[TORNADO_100]["taint_wei"]) == 200 * ETHER  # two deposits
    assert by_address[s.vault]["kind"] == "bridge"
    assert by_address[s.dex]["kind"] == "unknown contract" and int(by_address[s.dex]["taint_wei"]) == ETHER
    text = run_cli("exits", "--db", db).stdout
    assert f"btc:{BTC_DEST}" in text and "THORChain Router v4.1" in text and "Tornado Cash: 100 ETH pool" in text
    csv_text = run_cli("exits", "--db", db, "--csv").stdout
    assert csv_text.splitlines()[0].startswith("rank,address,label")
    poison = json.loads(run_cli("exits", "--db", db, "--json", "--taint", "poison").stdout)
    assert all(r["model"] == "poison" for r in poison)


def test_graph_carries_taint_and_reads_back(traced):
    s, _, graph = traced
    assert graph.nodes[s.fanout[0]]["taint_eth"] == 10.0
    assert int(graph.nodes[s.fanout[1]]["taint_wei"]) == 310 * ETHER  # 10 ETH and 300 stETH
    assert STETH not in graph or graph.nodes[STETH]["taint_wei"] == "0"
