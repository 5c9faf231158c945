"""`trace --case X --chains eth,arbi,bsc`: a case's synced Arbitrum and BSC seeds are traced on their own chains
(the explorer by chain id), beside its Ethereum seeds; Bitcoin, Tron and Solana seeds are stored, not traced."""

from __future__ import annotations

import json
import sqlite3

import networkx as nx

from explorer_server import Chain, ExplorerServer
from helpers import run_cli
from seed_case import ETHER, START_BLOCK, SeedCase

CASE = "bybit-2025-02"


def _chain(pairs: list[tuple[str, str]], name: str) -> Chain:
    case = SeedCase(Chain(), "", [], namespace=name)
    for i, (src, dst) in enumerate(pairs):
        case.native(src, dst, 5 * ETHER, START_BLOCK + 10 * i)
    case.chain.head = START_BLOCK + 1_000
    return case.chain


def test_a_cases_arbitrum_and_bsc_seeds_are_traced_on_their_own_chains(tmp_path):
    eth_seed, arb_seed, bsc_seed = "0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "c3" * 20
    eth_next, arb_next, bsc_next = "0x" + "a4" * 20, "0x" + "b5" * 20, "0x" + "c6" * 20
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps({"0221": {"eth": [eth_seed], "arbi": [arb_seed], "bsc": [bsc_seed],
                                         "btc": ["1BdRy4zMJF4dBixxMVVXXNRWutr1pNneyB"]}}))
    db, graphml = tmp_path / "case.db", tmp_path / "case.graphml"
    assert run_cli("seeds", "sync", "--source", feed, "--db", db).exit_code == 0
    home = _chain([(eth_seed, eth_next)], "eth")
    others = {42161: _chain([(arb_seed, arb_next)], "arb"), 56: _chain([(bsc_seed, bsc_next)], "bsc")}
    with ExplorerServer(home, other_chains=others) as server:
        import shutil

        shutil.copy(db, tmp_path / "eth.db")  # the same synced seeds: by default only Ethereum's are traced
        eth_only = run_cli("trace", "--case", CASE, "--db", tmp_path / "eth.db", "--explorer-url", server.url,
                           "--json", "--quiet", "--hops", "1", "--rate", "1000")
        assert eth_only.exit_code == 0 and not any(q.get("chainid") in ("42161", "56") for q in server.log)
        assert eth_seed in json.loads(eth_only.stdout)["seeds"] and len(server.log) > 0
        server.log.clear()
        result = run_cli("trace", "--case", CASE, "--chains", "eth,arbi,bsc", "--db", db, "--explorer-url",
                         server.url, "--json", "--quiet", "--hops", "1", "--graphml", graphml, "--rate", "1000")
        assert result.exit_code == 0, result.output
        asked = {(q.get("chainid"), q.get("address")) for q in server.log if q.get("action") == "txlist"}
        arb = others[42161]
        SeedCase(arb, "", [], namespace="arb-later").native(arb_seed, "0x" + "b7" * 20, ETHER, arb.head + 10)
        arb.head += 20
        later = run_cli("trace", "--case", CASE, "--chains", "eth,arbi,bsc", "--db", db, "--explorer-url",
                        server.url, "--json", "--quiet", "--hops", "1", "--rate", "1000")
        assert later.exit_code == 0, later.output
        moved = json.loads(later.stdout)["news"]["attributed_moved"]
        # an attributed Arbitrum wallet that moves is news, named by its own list (not mistaken for Ethereum's)
        assert [(m["address"], m["sources"]) for m in moved] == [(f"arb:{arb_seed}", str(feed.resolve()))]
    assert {("42161", arb_seed), ("56", bsc_seed)} <= asked
    graph = nx.read_graphml(graphml, force_multigraph=True)
    for u, v in ((eth_seed, eth_next), (f"arb:{arb_seed}", f"arb:{arb_next}"), (f"bsc:{bsc_seed}", f"bsc:{bsc_next}")):
        assert graph.has_edge(u, v), (u, v)
        assert graph.nodes[u]["hop"] == 0 and graph.nodes[v]["hop"] == 1


def test_chains_refuses_what_it_cannot_trace_in_one_line(tmp_path):
    for chains, says in (("eth,btc", "btc seeds are traced with --follow-btc"), ("eth,tron", "tron seeds are stored, not traced"), ("eth,ton", "unknown chain 'ton'"),
                         (",", "at least one chain")):
        result = run_cli("trace", "--case", CASE, "--chains", chains, "--db", tmp_path / "x.db")
        assert result.exit_code == 2 and says in result.stderr and len(result.stderr.splitlines()) == 1, \
            result.stderr
    alone = run_cli("trace", "0x" + "a1" * 20, "--chains", "arbi", "--db", tmp_path / "x.db")
    assert alone.exit_code == 2 and "give --case" in alone.stderr


def test_arbitrum_seeds_through_a_one_chain_blockscout_go_to_that_chains_instance_never_to_ethereums(tmp_path):
    """A per-instance Blockscout ignores chain ids: asking it for an Arbitrum seed would store Ethereum's history
    under arb:. The seed is followed on the chain's own Blockscout (--chain-explorer), or left for later."""
    arb_seed, arb_next = "0x" + "b2" * 20, "0x" + "b5" * 20
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps({"0221": {"arbi": [arb_seed]}}))
    db = tmp_path / "case.db"
    assert run_cli("seeds", "sync", "--source", feed, "--db", db).exit_code == 0
    home_chain = _chain([(arb_seed, "0x" + "99" * 20)], "eth")  # the same address, active on Ethereum too
    with ExplorerServer(home_chain, dialect="blockscout") as home, \
            ExplorerServer(_chain([(arb_seed, arb_next)], "arb"), dialect="blockscout") as arb:
        result = run_cli("trace", "--case", CASE, "--chains", "arbi", "--db", db, "--explorer-url", home.url,
                         "--chain-explorer", f"arb={arb.url}", "--json", "--quiet", "--hops", "1", "--rate", "1000")
        assert result.exit_code == 0, result.output
        assert "serves one chain only" in result.stderr
        assert not any(q.get("address") == arb_seed for q in home.log)
    conn = sqlite3.connect(db)
    stored = {(f, t) for f, t in conn.execute("SELECT from_addr, to_addr FROM transfers")}
    conn.close()
    assert stored == {(f"arb:{arb_seed}", f"arb:{arb_next}")}


def test_a_case_without_seeds_on_the_chosen_chains_says_so(tmp_path):
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps({"0999": {"eth": ["0x" + "a1" * 20]}}))
    db = tmp_path / "case.db"
    assert run_cli("seeds", "sync", "--source", feed, "--db", db).exit_code == 0
    result = run_cli("trace", "--case", "lazarusbounty-0999", "--chains", "arbi", "--db", db)
    assert result.exit_code == 2 and "has no seeds on arbi" in result.stderr, result.stderr
