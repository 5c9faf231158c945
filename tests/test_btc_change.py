"""Change outputs on Bitcoin: which output a payment paid back to its sender, named with the heuristics that say
so; a peel chain is followed along its change at one hop, and each peeled payment is the next hop."""

from __future__ import annotations

import sqlite3

import networkx as nx
import pytest

from btc_helpers import p2pkh
from esplora_server import HEIGHT0, BtcChain, EsploraServer
from helpers import run_cli

BTC = 10**8
SEGWIT = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP-173's example: a P2WPKH output among P2PKH inputs


def _tx(ins: list[tuple[str, int, str]], outs: list[tuple[str, int, str]]):
    from tracer.sources.esplora import BtcInput, BtcOutput, BtcTx

    inputs = tuple(BtcInput("ab" * 32, i, a, v, kind) for i, (a, v, kind) in enumerate(ins))
    outputs = tuple(BtcOutput(n, a, v, kind) for n, (a, v, kind) in enumerate(outs))
    return BtcTx("cd" * 32, HEIGHT0, 0, inputs, outputs, 1_000)


A, B, C = p2pkh("a"), p2pkh("b"), p2pkh("c")


@pytest.mark.parametrize("tx,expected", [
    # paid back to the input's own address: GraphSense's direct change, sure on its own
    (_tx([(A, 5 * BTC, "p2pkh")], [(B, 1 * BTC, "p2pkh"), (A, 4 * BTC - 1_000, "p2pkh")]),
     (1, ("address-reuse", "round-amount", "peel-chain"), "high")),
    (_tx([(A, 5 * BTC, "p2pkh")], [(B, 123_456_789, "p2pkh"), (A, 376_542_211, "p2pkh")]),
     (1, ("address-reuse", "peel-chain"), "high")),
    # a peel: one coin in, a round payment out and the large rest on (round amount and peel shape agree)
    (_tx([(A, 5 * BTC, "p2pkh")], [(B, 50_000_000, "p2pkh"), (C, 449_999_000, "p2pkh")]),
     (1, ("round-amount", "peel-chain"), "medium")),
    # the peel shape alone: a guess
    (_tx([(A, 5 * BTC, "p2pkh")], [(B, 123_456_789, "p2pkh"), (C, 376_542_211, "p2pkh")]),
     (1, ("peel-chain",), "low")),
    # two coins in: the one output smaller than both (optimal change) and the only one of the inputs' script type
    (_tx([(A, 3 * BTC, "p2pkh"), (B, 3 * BTC, "p2pkh")], [(SEGWIT, 5 * BTC, "v0_p2wpkh"), (C, 99_999_000, "p2pkh")]),
     (1, ("script-type", "round-amount", "optimal-change"), "high")),
    # heuristics that point at different outputs decide nothing: the round output is the larger one here
    (_tx([(A, 5 * BTC, "p2pkh")], [(B, 4 * BTC, "p2pkh"), (C, 99_999_000, "p2pkh")]), None),
    # one output, or a CoinJoin (no change heuristics inside one: the notes' rule)
    (_tx([(A, 5 * BTC, "p2pkh")], [(B, 5 * BTC - 1_000, "p2pkh")]), None),
    (_tx([(p2pkh(f"p{i}"), 1_000_000, "p2pkh") for i in range(5)],
         [(p2pkh(f"m{i}"), 1_000_000, "p2pkh") for i in range(5)]), None),
])
def test_the_change_output_is_named_with_its_heuristics(tx, expected):
    from tracer.btc import change_of

    change = change_of(tx)
    assert (change and (change.vout, change.heuristics, change.confidence)) == expected


def test_a_peel_chain_is_followed_along_its_change_at_one_hop_and_each_peel_is_the_next(tmp_path):
    from explorer_server import Chain, ExplorerServer

    chain = BtcChain()
    seed = p2pkh("peeler")
    links = [p2pkh(f"link{i}") for i in range(4)]
    peels = [p2pkh(f"peel{i}") for i in range(4)]
    coin, value, txs = chain.coinbase(seed, 10 * BTC, HEIGHT0), 10 * BTC, []
    for i in range(4):  # seed -> link0 -> link1 -> ... each step paying a round amount off
        pay = (i + 1) * 10_000_000
        value -= pay + 1_000
        coin = chain.spend([(coin, 0 if i == 0 else 1)], [(peels[i], pay), (links[i], value)], HEIGHT0 + 1 + i)
        txs.append(coin)
    # the last link pays two outputs whose heuristics disagree: no change, both are an ordinary next hop
    last_round, last_rest = 7 * BTC, value - 7 * BTC - 1_000
    unsure = chain.spend([(coin, 1)], [(p2pkh("round-big"), last_round), (p2pkh("odd-small"), last_rest)], HEIGHT0 + 9)
    db, graphml = tmp_path / "case.db", tmp_path / "g.graphml"
    with EsploraServer(chain) as server, ExplorerServer(Chain(head=100)) as home:
        result = run_cli("trace", seed, "--follow-btc", "--btc-url", server.url, "--btc-rate", "1000", "--hops", "1",
                         "--db", db, "--explorer-url", home.url, "--rate", "1000", "--json", "--quiet",
                         "--graphml", graphml)
        assert result.exit_code == 0, result.output
    graph = nx.read_graphml(graphml, force_multigraph=True)
    hop = {n: graph.nodes[n]["hop"] for n in graph}
    assert [hop[f"btc:{x}"] for x in links] == [0] * 4  # the same owner all along the chain
    assert all(graph.nodes[f"btc:{x}"]["followed"] for x in links)
    assert [hop[f"btc:{x}"] for x in peels] == [1] * 4  # each payment peeled off is one hop out
    assert hop[f"btc:{p2pkh('round-big')}"] == hop[f"btc:{p2pkh('odd-small')}"] == 1
    for i, txid in enumerate(txs):
        change = graph.edges[f"btc:{seed if i == 0 else links[i - 1]}", f"btc:{links[i]}", f"{txid}:utxo:1"]
        assert (change["heuristics"], change["confidence"]) == ("round-amount;peel-chain", 0.7)
        assert "change" in change["flags"].split(",")
        peel = graph.edges[f"btc:{seed if i == 0 else links[i - 1]}", f"btc:{peels[i]}", f"{txid}:utxo:0"]
        assert (peel["heuristics"], peel["confidence"]) == ("", 1.0)
    conn = sqlite3.connect(db)
    flags = {r[0] for r in conn.execute("SELECT flags FROM transfers WHERE tx_hash=? AND kind='utxo'", (unsure,))}
    conn.close()
    assert flags == {""}
