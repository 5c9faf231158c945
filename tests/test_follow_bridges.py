"""--follow-bridges: a THORChain swap to BASE.ETH continues on Base through the explorer's chainid."""

import networkx as nx

import scenario
from anvil import Anvil
from chain_indexer import index_chain
from conftest import needs_anvil
from explorer_server import Chain, ExplorerServer
from helpers import run_cli

ETHER = 10**18


@needs_anvil
def test_trail_continues_on_the_destination_chain(tmp_path):
    seed, vault = scenario.addr("bridge-seed"), scenario.addr("bridge-vault")
    receiver, onward = scenario.addr("base-receiver"), scenario.addr("base-onward")
    thor_outbound = scenario.addr("thor-base-outbound")
    with Anvil(chain_id=1) as home, Anvil(chain_id=8453) as base:
        b = scenario.Builder(home)
        b.fund(seed, 100 * ETHER)
        memo = f"=:f:{receiver}"  # f = BASE.ETH
        deposit = b.send(seed, vault, 5 * ETHER, data="0x" + memo.encode().hex())
        far = scenario.Builder(base, start_time=scenario.START_TIME + 3600)
        far.fund(thor_outbound, 100 * ETHER)
        far.send(thor_outbound, receiver, 4 * ETHER + ETHER // 2)
        onward_tx = far.send(receiver, onward, 4 * ETHER)
        with ExplorerServer(Chain(head=0), other_chains={8453: index_chain(base)}) as server:
            db, graphml = tmp_path / "case.db", tmp_path / "trail.graphml"
            result = run_cli("trace", seed, "--db", db, "--rpc-url", home.url, "--explorer-url", server.url,
                             "--follow-bridges", "--json", "--quiet", "--graphml", graphml)
            assert result.exit_code == 0, result.output
            assert all(q.get("chainid") == "8453" for q in server.log)
    graph = nx.read_graphml(graphml, force_multigraph=True)
    node, far_node = f"base:{receiver}", f"base:{onward}"
    (u, v, d), = [(u, v, d) for u, v, d in graph.edges(data=True) if d["kind"] == "bridge"]
    assert (u, v, d["tx_hash"], d["dest_asset"]) == (seed, node, deposit, "BASE.ETH")
    assert graph.nodes[node]["followed"] and graph.nodes[node]["hop"] == 1
    hop2 = [d for u, v, d in graph.edges(data=True) if u == node and v == far_node]
    assert hop2 and hop2[0]["tx_hash"] == onward_tx and int(hop2[0]["amount"]) == 4 * ETHER
    assert graph.nodes[far_node]["hop"] == 2
    assert vault in graph and not graph.nodes[vault]["followed"]


def test_follow_bridges_needs_an_explorer_that_serves_other_chains(tmp_path, monkeypatch):
    monkeypatch.delenv("ETHERSCAN_API_KEY", raising=False)
    result = run_cli("trace", "0x" + "11" * 20, "--db", tmp_path / "c.db", "--rpc-url", "http://127.0.0.1:9",
                     "--follow-bridges")
    assert result.exit_code == 2 and "--follow-bridges needs an explorer" in result.stderr


def _bridge_to_base(home, base):
    seed, vault = scenario.addr("bridge-seed"), scenario.addr("bridge-vault")
    receiver, onward = scenario.addr("base-receiver"), scenario.addr("base-onward")
    thor_outbound = scenario.addr("thor-base-outbound")
    b = scenario.Builder(home)
    b.fund(seed, 100 * ETHER)
    b.send(seed, vault, 5 * ETHER, data="0x" + f"=:f:{receiver}".encode().hex())
    far = scenario.Builder(base, start_time=scenario.START_TIME + 3600)
    far.fund(thor_outbound, 100 * ETHER)
    far.send(thor_outbound, receiver, 4 * ETHER + ETHER // 2)
    far.send(receiver, onward, 4 * ETHER)
    return seed, receiver, onward


@needs_anvil
def test_a_chain_the_free_tier_refuses_is_followed_on_its_blockscout(tmp_path):
    """Etherscan's free tier answers "Free API access is not supported for this chain" for Base: the trail goes
    on through Base's Blockscout (here: --chain-explorer naming a local one), with one warning."""
    with Anvil(chain_id=1) as home, Anvil(chain_id=8453) as base:
        seed, receiver, onward = _bridge_to_base(home, base)
        base_chain = index_chain(base)
        with ExplorerServer(Chain(head=0), other_chains={8453: base_chain}, dialect="etherscan", tier="free-clamp",
                            api_key="K") as etherscan, \
                ExplorerServer(base_chain, dialect="blockscout") as base_blockscout:
            db, graphml = tmp_path / "case.db", tmp_path / "trail.graphml"
            result = run_cli("trace", seed, "--db", db, "--rpc-url", home.url, "--explorer-url", etherscan.url,
                             "--follow-bridges", "--chain-explorer", f"base={base_blockscout.url}", "--json",
                             "--quiet", "--graphml", graphml, env={"ETHERSCAN_API_KEY": "K"})
            assert result.exit_code == 0, result.output
            assert result.stderr.count("tracer: warning:") == 1 and "does not serve base" in result.stderr
            assert any(q.get("address") == receiver for q in base_blockscout.log)
    graph = nx.read_graphml(graphml, force_multigraph=True)
    assert graph.nodes[f"base:{receiver}"]["followed"] and f"base:{onward}" in graph


@needs_anvil
def test_a_chain_no_explorer_serves_is_left_for_later_and_the_trace_goes_on(tmp_path, monkeypatch):
    import tracer.chains

    monkeypatch.setitem(tracer.chains.BLOCKSCOUT_INSTANCES, "base", "")  # as if no instance were known
    with Anvil(chain_id=1) as home, Anvil(chain_id=8453) as base:
        seed, receiver, _ = _bridge_to_base(home, base)
        with ExplorerServer(Chain(head=0), other_chains={8453: index_chain(base)}, dialect="etherscan",
                            tier="free-clamp", api_key="K") as etherscan:
            db = tmp_path / "case.db"
            result = run_cli("trace", seed, "--db", db, "--rpc-url", home.url, "--explorer-url", etherscan.url,
                             "--follow-bridges", "--json", "--quiet", env={"ETHERSCAN_API_KEY": "K"})
    assert result.exit_code == 0, result.output
    assert result.stderr.count("cannot follow base") == 1 and "could not be read in full" in result.stderr
    import sqlite3

    conn = sqlite3.connect(db)
    cursors = conn.execute("SELECT scanned_from, scanned_to FROM cursors WHERE address=?",
                           (f"base:{receiver}",)).fetchall()
    conn.close()
    # nothing claims its history was read: a later run (with an explorer for it) reads it from the start
    assert cursors and all(to < frm for frm, to in cursors)


@needs_anvil
def test_a_blockscout_pro_key_alone_follows_bridges_by_chain_id(tmp_path, monkeypatch):
    monkeypatch.delenv("ETHERSCAN_API_KEY", raising=False)
    with Anvil(chain_id=1) as home, Anvil(chain_id=8453) as base:
        seed, receiver, onward = _bridge_to_base(home, base)
        with ExplorerServer(Chain(head=0), other_chains={8453: index_chain(base)}, dialect="blockscout-pro",
                            api_key="proapi_k") as pro:
            db, graphml = tmp_path / "case.db", tmp_path / "trail.graphml"
            result = run_cli("trace", seed, "--db", db, "--rpc-url", home.url, "--explorer-url", pro.url,
                             "--explorer-dialect", "blockscout-pro", "--follow-bridges", "--json", "--quiet",
                             "--graphml", graphml, env={"BLOCKSCOUT_API_KEY": "proapi_k"})
            assert result.exit_code == 0, result.output
            asked = [q for q in pro.log if q.get("address") == receiver]
    assert asked and "proapi_k" not in result.output
    graph = nx.read_graphml(graphml, force_multigraph=True)
    assert graph.nodes[f"base:{receiver}"]["followed"] and f"base:{onward}" in graph
