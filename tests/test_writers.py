"""The streaming GraphML and GEXF writers read back exactly as networkx's own files do."""

import networkx as nx

from tracer.gexf import write_gexf
from tracer.graphml import write_graphml


def sample() -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    g.add_node("0xaa", label="Velora <router> & \"friends\"", category="dex", hop=2, is_contract=True, followed=False,
               flags="", taint_wei="5", taint_eth=5e-18)
    g.add_node("btc:bc1qxyz", label="", category="destination", hop=-1, is_contract=False, followed=False, flags="",
               taint_wei="0", taint_eth=0.0)
    for i in range(2):  # parallel edges keep their keys
        g.add_edge("0xaa", "btc:bc1qxyz", key=f"0x{i:064x}:bridge:{i}", tx_hash=f"0x{i:064x}", log_index=-1,
                   block=21895319 + i, timestamp=1740148187, kind="bridge", asset="ЕTH", token="ETH",
                   amount=str(10**24 + i), value=1e6, flags="", memo="=:b:bc1q'x'", confidence=1.0)
    return g


def test_graphml_matches_networkx(tmp_path):
    g = sample()
    write_graphml(g, tmp_path / "ours.graphml")
    nx.write_graphml(g, tmp_path / "theirs.graphml", named_key_ids=True)
    ours = nx.read_graphml(tmp_path / "ours.graphml", force_multigraph=True)
    theirs = nx.read_graphml(tmp_path / "theirs.graphml", force_multigraph=True)
    assert dict(ours.nodes(data=True)) == dict(theirs.nodes(data=True)) == dict(g.nodes(data=True))
    assert sorted(ours.edges(keys=True, data=True)) == sorted(theirs.edges(keys=True, data=True))


def test_gexf_matches_networkx(tmp_path):
    g = sample()
    write_gexf(g, tmp_path / "ours.gexf")
    nx.write_gexf(g, tmp_path / "theirs.gexf")
    ours, theirs = nx.read_gexf(tmp_path / "ours.gexf"), nx.read_gexf(tmp_path / "theirs.gexf")
    assert dict(ours.nodes(data=True)) == dict(theirs.nodes(data=True))
    assert sorted(ours.edges(keys=True, data=True)) == sorted(theirs.edges(keys=True, data=True))
    assert ours.number_of_edges() == 2
