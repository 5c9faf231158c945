"""Tracing the real first two hops of the Bybit exploiter, served by a local Etherscan-shaped API."""

import sqlite3

import networkx as nx
import pytest

from conftest import DEX_VENUES, EXPLOITER, HOP1_CMETH, HOP1_CONSOLIDATION, HOP2_FORWARD
from helpers import run_cli, trace
from tracer.store import Store

TEN_THOUSAND_ETH = str(10_000 * 10**18)


@pytest.fixture
def traced(explorer, db_path, tmp_path):
    graphml = tmp_path / "trail.graphml"
    summary = trace(explorer, db_path, "--graphml", graphml)
    graph = nx.read_graphml(graphml, force_multigraph=True)
    return summary, graph, explorer


def test_hop_one_reaches_the_forty_10k_eth_recipients(traced):
    _, graph, _ = traced
    recipients = {v for _, v, d in graph.out_edges(EXPLOITER, data=True)
                  if d["kind"] == "native" and d["amount"] == TEN_THOUSAND_ETH}
    assert len(recipients) == 40
    assert all(graph.nodes[r]["hop"] == 1 for r in recipients)


def test_consolidation_and_forwarding_addresses_sit_at_the_right_hops(traced):
    _, graph, _ = traced
    assert graph.nodes[EXPLOITER]["hop"] == 0 and graph.nodes[EXPLOITER]["category"] == "seed"
    assert graph.nodes[HOP1_CONSOLIDATION]["hop"] == 1
    assert graph.nodes[HOP1_CMETH]["hop"] == 1
    assert graph.nodes[HOP2_FORWARD]["hop"] == 2
    forwarded = sum(int(d["amount"]) for _, v, d in graph.out_edges(HOP1_CONSOLIDATION, data=True)
                    if v == HOP2_FORWARD and d["kind"] == "native")
    assert forwarded == 38313794800000000000000 + 49755000000000000000000 + 9980000000000000000000


def test_no_poisoning_recipient_is_ever_queried(traced):
    _, graph, server = traced
    queried = {q.get("address") for q in server.log if q.get("address")}
    poisoned = {n for n, d in graph.nodes(data=True) if d["category"] == "poison"}
    assert len(poisoned) > 100  # the fixture is mostly spam
    assert not (queried & poisoned)
    assert "0xa4b24033f4c6d70133e4557c2c32a3fb693e449e" in poisoned  # imitates 0xa4b2fd68…449e


def test_poisoning_edges_are_kept_and_flagged(traced):
    _, graph, _ = traced
    flags = [d["flags"] for _, _, d in graph.edges(data=True)]
    assert any("counterfeit" in f for f in flags)
    assert any("zero-value" in f for f in flags)
    assert any("lookalike" in f for f in flags)
    assert any("unverified-token" in f for f in flags)
    # a counterfeit "ETH" token is never taken for ether
    for _, _, d in graph.edges(data=True):
        if d["asset"] in ("ETH", "stETH") and d["token"] not in ("ETH", "0xae7ab96520de3a18e5e111b5eaab095312d7fe84"):
            assert "counterfeit" in d["flags"]


def test_dex_contracts_are_endpoints(traced):
    _, graph, server = traced
    queried = {q.get("address") for q in server.log}  # histories and eth_getCode alike
    for venue in DEX_VENUES:
        node = graph.nodes[venue]
        assert node["category"] == "dex"
        # a labelled service costs no request at all, and the curated label knows it holds code
        assert node["is_contract"] is True and "code-unchecked" not in node["flags"]
        assert node["followed"] is False and venue not in queried


def test_graphml_schema(traced):
    _, graph, _ = traced
    node_types = {"label": str, "label_source": str, "category": str, "hop": int, "is_contract": bool,
                  "followed": bool, "flags": str}
    edge_types = {"tx_hash": str, "log_index": int, "block": int, "timestamp": int, "kind": str, "asset": str,
                  "token": str, "amount": str, "value": float, "flags": str}
    for n, d in graph.nodes(data=True):
        assert n == n.lower() and n.startswith("0x")
        for k, t in node_types.items():
            assert isinstance(d[k], t), (n, k, d[k])
    for u, v, key, d in graph.edges(keys=True, data=True):
        for k, t in edge_types.items():
            assert isinstance(d[k], t), (key, k, d[k])
        assert key == f"{d['tx_hash']}:{d['kind']}:{key.split(':')[2]}"
        assert d["kind"] in ("native", "internal", "erc20")
        int(d["amount"])  # exact base units


def test_json_summary_and_request_budget(traced):
    summary, graph, server = traced
    assert summary["requests"] == len(server.log)
    assert summary["new_transfers"] == graph.number_of_edges()
    assert summary["followed_addresses"] == 44  # seed, 42 hop-1 wallets, the hop-2 forward address
    # three calls per followed address (its three lists; the first txlist page tells an account that
    # sends transactions from a contract, so no eth_getCode is needed here); labelled services and
    # last-hop addresses cost nothing. The balance screen that makes reruns cheap: one balancemulti
    # per 20 addresses of a hop (1 + 3 + 1), one tokenbalance per token an address may still hold
    # (0xa4b2…: stETH, mETH; 0x1542…: cmETH), and the head block after each hop's screen.
    by_action = {}
    for q in server.log:
        by_action[q["action"]] = by_action.get(q["action"], 0) + 1
    assert by_action == {"eth_blockNumber": 1 + 3, "txlist": 44, "txlistinternal": 44, "tokentx": 44,
                         "balancemulti": 5, "tokenbalance": 3}
    assert summary["requests"] == 3 * 44 + 1 + 3 + 5 + 3


def test_rerunning_with_nothing_new_adds_nothing(explorer, db_path):
    first = trace(explorer, db_path)
    second = trace(explorer, db_path)
    assert first["new_transfers"] > 0
    assert second["new_transfers"] == 0 and second["new_addresses"] == 0
    store = Store.open(db_path)
    assert store.count_transfers() == first["new_transfers"]
    store.close()


def test_min_value_threshold_stops_at_dust(explorer, db_path):
    summary = trace(explorer, db_path, "--min-value", "12000")
    assert summary["hops"][1]["addresses"] == 2  # 10,000 ETH each is below it; 50,000 stETH and 15,000 cmETH are not


def test_show_reports_totals_and_counterparties(traced, db_path):
    result = run_cli("show", HOP1_CONSOLIDATION, "--db", db_path, "--json")
    assert result.exit_code == 0
    import json
    info = json.loads(result.stdout)
    assert info["hop"] == 1 and info["followed"] is True
    steth = next(t for t in info["totals"] if t["asset"] == "stETH")
    assert steth["in_base_units"] == str(90375547917680000000000)
    assert info["poison_transfers"] > 0
    piped = run_cli("show", HOP1_CONSOLIDATION, "--db", db_path).stdout  # not a terminal: TSV blocks
    blocks = [b.splitlines() for b in piped.split("\n\n")]
    assert [b[0] for b in blocks] == ["field\tvalue", "asset\ttoken\tin\tout", "address\tdirection\ttransfers\tcategory"]
    assert "counterparties\t6" in blocks[0] and len(blocks[2]) == 1 + 6
    assert "stETH\t0xae7ab96520de3a18e5e111b5eaab095312d7fe84\t90375.54791768\t90375.54791768" in blocks[1]
    table = run_cli("show", HOP1_CONSOLIDATION, "--db", db_path, "--format", "table").stdout
    assert "\t" not in table and "───" in table and "90375.54791768" in table and "counterparties" in table


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "csv", "json"])
def test_export_formats(traced, db_path, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    result = run_cli("export", "--db", db_path, "--format", fmt, "--out", out)
    assert result.exit_code == 0, result.output
    assert out.exists() and out.stat().st_size > 0
    _, graph, _ = traced
    if fmt == "gexf":
        g = nx.read_gexf(out)
        assert g.number_of_edges() == graph.number_of_edges()
    if fmt == "csv":
        import pandas as pd
        edges = pd.read_csv(out, dtype={"amount": str})
        nodes = pd.read_csv(tmp_path / "out.nodes.csv")
        assert len(edges) == graph.number_of_edges() and len(nodes) == graph.number_of_nodes()
        assert set(edges["amount"]) >= {TEN_THOUSAND_ETH}
    if fmt == "json":
        import json
        doc = json.loads(out.read_text())
        assert len(doc["edges"]) == graph.number_of_edges()


def test_contract_wallets_are_followed_and_other_contracts_are_not(fixture_chain, db_path):
    from explorer_server import ExplorerServer
    from test_codes import SAFE_PROXY

    recipient = "0x09278b36863be4ccd3d0c22d643e8062d7a11377"  # one of the 40 × 10,000 ETH recipients
    onward, beyond = "0x" + "51" * 20, "0x" + "52" * 20
    fixture_chain.code[HOP1_CMETH] = SAFE_PROXY  # as if the cmETH recipient were a Safe...
    fixture_chain.code[recipient] = "0x6080604052348015600f57600080fd5b50"  # ...and this one a contract
    # each moves value out without ever sending a transaction itself, as contracts do
    fixture_chain.records["tokentx"].append({
        "blockNumber": "21895900", "timeStamp": "1740151000", "hash": "0x" + "e1" * 32, "from": HOP1_CMETH,
        "to": onward, "value": str(5000 * 10**18), "contractAddress": "0xe6829d9a7ee3040e1276fa75293bde931859e8fa",
        "tokenSymbol": "cmETH", "tokenDecimal": "18"})
    fixture_chain.records["txlistinternal"].append({
        "blockNumber": "21895901", "timeStamp": "1740151012", "hash": "0x" + "e2" * 32, "from": recipient,
        "to": beyond, "value": str(10**18), "isError": "0", "contractAddress": "", "type": "call"})
    with ExplorerServer(fixture_chain) as server:
        trace(server, db_path)
        asked = {(q["address"], q["action"]) for q in server.log if q.get("address")}
    assert {(HOP1_CMETH, "eth_getCode"), (recipient, "eth_getCode")} <= asked  # value left: wallet or contract?
    assert (HOP1_CONSOLIDATION, "eth_getCode") not in asked  # it sent transactions: an account
    assert ("0x0e8c1e2881f35ef20343264862a242fb749d6b35", "eth_getCode") not in asked  # quiet: nothing to decide
    store = Store.open(db_path)
    assert store.address(HOP1_CMETH).category == "wallet-contract" and store.address(onward).hop == 2
    assert store.address(recipient).category == "contract"
    assert store.address(beyond) is None or store.address(beyond).hop is None  # a contract's outflow: no trail
    assert store.address(HOP1_CONSOLIDATION).code_kind == "eoa"
    store.close()


def test_hubs_are_services_not_wallets(explorer, db_path):
    summary = trace(explorer, db_path, "--max-degree", "5")
    store = Store.open(db_path)
    hub = store.address(HOP1_CONSOLIDATION)  # 6 clean counterparties; its poisoning spam does not count
    assert hub.category == "service"
    assert store.address(HOP2_FORWARD) is None or store.address(HOP2_FORWARD).hop is None
    store.close()
    assert [h["hop"] for h in summary["hops"]] == [0, 1]  # nothing beyond the hub


def test_a_transfer_in_blocks_the_chain_grew_during_the_run_is_fetched(tmp_path):
    """The chain grows while a run reads it: a hop-1 wallet's first page may be read up to an earlier head than its
    fetch runs to. The blocks between are read too; the cursor never claims blocks nobody read (a regression:
    the transfer below was lost, and the balance screen hid the loss on every later night)."""
    from explorer_server import Chain, ExplorerServer
    from helpers import run_cli

    chain = Chain.from_fixtures()
    base = chain.head
    late = "0x" + "e9" * 20
    paid = next(r for r in chain.records["txlist"] if r["from"].lower() == EXPLOITER and int(r["value"]) > 0)
    wallet = "0x" + "e8" * 20  # a hop-1 wallet with a short history: its first page holds all of it
    chain.records["txlist"] += [
        {**paid, "hash": "0x" + "d3" * 32, "to": wallet, "value": str(2 * 10**18)},
        {**paid, "hash": "0x" + "d4" * 32, "from": wallet, "to": late, "blockNumber": str(base + 50),
         "timeStamp": str(int(paid["timeStamp"]) + 99_999), "value": str(10**18)}]
    chain.head = base + 100
    chain.head_steps = [base, base + 10, base + 100]  # head reads see the chain grow past the transfer below
    db = tmp_path / "case.db"
    with ExplorerServer(chain) as server:
        for _ in range(2):
            result = run_cli("trace", EXPLOITER, "--db", db, "--explorer-url", server.url, "--rate", "200", "--quiet",
                             "--json")
            assert result.exit_code == 0, result.output
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT count(*) FROM transfers WHERE tx_hash=?", ("0x" + "d4" * 32,)).fetchone()[0]
    hop = conn.execute("SELECT hop FROM addresses WHERE address=?", (late,)).fetchone()
    conn.close()
    assert stored == 1 and hop == (2,)
