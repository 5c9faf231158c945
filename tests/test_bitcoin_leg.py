"""--follow-btc: one `tracer trace` crosses from an Ethereum THORChain deposit (a real anvil node) into Bitcoin
(a local Esplora server, tests/esplora_server.py) and goes on there, in one graph."""

from __future__ import annotations

import json
import sqlite3

import networkx as nx
import pytest

import scenario
from anvil import Anvil
from conftest import needs_anvil
from esplora_server import HEIGHT0, BtcChain, EsploraServer
from helpers import run_cli
from btc_helpers import p2pkh

ETHER = 10**18
BTC = 10**8
DEST = scenario.BTC_DEST  # a valid bech32 address, decoded from the deposit's memo


def build_btc(deposit_hash: str) -> tuple[BtcChain, dict[str, str]]:
    """THORChain's vault pays DEST out with `OUT:<deposit>`; before that, DEST had an unrelated past; after it,
    DEST peels a small amount off, and the rest is consolidated with a stranger's coin."""
    chain = BtcChain()
    vault, stranger = p2pkh("thorchain-btc-vault"), p2pkh("stranger")
    a = {"vault": vault, "stranger": stranger, "before": p2pkh("before"), "next": p2pkh("next"),
         "peel": p2pkh("peel"), "joined": p2pkh("joined"), "old": p2pkh("old-funder")}
    old = chain.coinbase(a["old"], 3 * BTC, HEIGHT0)
    past = chain.spend([(old, 0)], [(DEST, 1 * BTC), (a["old"], 2 * BTC - 1_000)], HEIGHT0 + 1)
    a["past_spend"] = chain.spend([(past, 0)], [(a["before"], BTC - 2_000)], HEIGHT0 + 2)  # before the crossing
    funds = chain.coinbase(vault, 50 * BTC, HEIGHT0 + 3)
    a["outbound"] = chain.spend([(funds, 0)], [(DEST, 20_000_000), (vault, 50 * BTC - 20_010_000)], HEIGHT0 + 5,
                                op_return=b"OUT:" + deposit_hash[2:].upper().encode())
    a["peel_tx"] = chain.spend([(a["outbound"], 1)], [(a["next"], 15_000_000), (a["peel"], 4_990_000)], HEIGHT0 + 6)
    other = chain.coinbase(stranger, 2 * BTC, HEIGHT0 + 6)
    a["join_tx"] = chain.spend([(other, 0), (a["peel_tx"], 0)], [(a["joined"], 2 * BTC + 14_990_000)], HEIGHT0 + 7)
    return chain, a


@needs_anvil
@pytest.mark.parametrize("variant", ["blockstream", "mempool"])
def test_one_trace_crosses_into_bitcoin_and_follows_the_coins(tmp_path, variant):
    seed, vault = scenario.addr("btc-seed"), scenario.addr("btc-thor-vault")
    with Anvil(chain_id=1) as home:
        b = scenario.Builder(home)
        b.fund(seed, 100 * ETHER)
        deposit = b.send(seed, vault, 5 * ETHER, data="0x" + f"=:BTC.BTC:{DEST}".encode().hex())
        btc, a = build_btc(deposit)
        with EsploraServer(btc, variant) as server:
            db, graphml = tmp_path / "case.db", tmp_path / "trail.graphml"
            result = run_cli("trace", seed, "--db", db, "--rpc-url", home.url, "--follow-btc", "--btc-url", server.url,
                             "--btc-rate", "1000", "--hops", "4", "--json", "--quiet", "--graphml", graphml)
            assert result.exit_code == 0, result.output
            first_requests = len(server.log)
            server.log.clear()
            again = run_cli("trace", seed, "--db", db, "--rpc-url", home.url, "--follow-btc", "--btc-url", server.url,
                            "--btc-rate", "1000", "--hops", "4", "--json", "--quiet")
            assert again.exit_code == 0 and json.loads(again.stdout)["new_transfers"] == 0, again.output
            # a quiet night on Bitcoin is a screen: one /address per followed Bitcoin address, no page
            followed = [a[k] for k in ("next", "peel", "joined")] + [DEST]
            assert sorted(server.log) == sorted(f"/api/address/{x}" for x in followed), server.log
            later = btc.spend([(a["peel_tx"], 1)], [(p2pkh("later"), 4_980_000)], btc.tip + 1)  # peel moves on
            server.log.clear()
            moved = run_cli("trace", seed, "--db", db, "--rpc-url", home.url, "--follow-btc", "--btc-url",
                            server.url, "--btc-rate", "1000", "--hops", "4", "--json", "--quiet")
            assert moved.exit_code == 0 and json.loads(moved.stdout)["new_transfers"] == 1, moved.output
            paged = {p.split("/")[3] for p in server.log if "/txs/chain" in p}
            assert paged == {a["peel"], p2pkh("later")}  # the address that moved, and the one it paid (a new hop)
            conn = sqlite3.connect(db)
            assert conn.execute("SELECT from_addr, to_addr, kind, amount FROM transfers WHERE tx_hash=? ORDER BY id",
                                (later,)).fetchall() == [(f"btc:{a['peel']}", "btc:fee", "fee", "10000"),
                                                         (f"btc:{a['peel']}", f"btc:{p2pkh('later')}", "utxo", "4980000")]
            conn.close()
    graph = nx.read_graphml(graphml, force_multigraph=True)
    dest = f"btc:{DEST}"
    (u, v, d), = [(u, v, d) for u, v, d in graph.edges(data=True) if d["kind"] == "bridge"]
    assert (u, v, d["tx_hash"], d["dest_asset"]) == (seed, dest, deposit, "BTC.BTC")
    assert "verified" in d["flags"]  # the outbound's OUT: memo names this very deposit
    assert graph.nodes[dest]["hop"] == 1 and graph.nodes[dest]["followed"]
    node = lambda k: f"btc:{a[k]}"  # noqa: E731
    spend = [(x, k, d) for _, x, k, d in graph.out_edges(dest, keys=True, data=True) if d["tx_hash"] == a["peel_tx"]]
    assert sorted((x, k, int(d["amount"]), d["kind"], d["asset"]) for x, k, d in spend) == [
        (node("next"), f"{a['peel_tx']}:utxo:0", 15_000_000, "utxo", "BTC"),
        (node("peel"), f"{a['peel_tx']}:utxo:1", 4_990_000, "utxo", "BTC")]
    assert graph.nodes[node("next")]["hop"] == 2 and graph.nodes[node("peel")]["hop"] == 2
    # the consolidation spends next's coin beside a stranger's: a co-spend edge ties them, the stranger is no hop
    assert graph.nodes[node("joined")]["hop"] == 3
    co = [d for u, x, d in graph.edges(data=True) if d["kind"] == "co-spend"]
    assert [(d["tx_hash"], d["flags"]) for d in co] == [(a["join_tx"], "co-spend")]
    assert not graph.nodes[node("stranger")].get("followed")
    # the address's past before the crossing is read, but not followed: the leg starts at the outbound
    assert node("before") not in graph and a["past_spend"] not in {d["tx_hash"] for *_, d in graph.edges(data=True)}
    assert first_requests < 40


def test_a_bitcoin_address_is_a_seed_with_follow_btc_and_a_bad_one_is_one_line(tmp_path):
    from explorer_server import Chain, ExplorerServer

    btc, a = build_btc("0x" + "ab" * 32)
    db = tmp_path / "case.db"
    with EsploraServer(btc) as server, ExplorerServer(Chain(head=100)) as home:
        base = ["--db", db, "--explorer-url", home.url, "--rate", "1000", "--btc-rate", "1000", "--json", "--quiet"]
        result = run_cli("trace", a["next"], "--follow-btc", "--btc-url", server.url, "--hops", "1", *base)
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["seeds"] == [f"btc:{a['next']}"]
        conn = sqlite3.connect(db)
        stored = sorted(r[0] for r in conn.execute("SELECT id FROM transfers"))
        conn.close()
        # the transaction that paid it (both outputs) and the one that spent it beside a stranger's coin
        assert stored == sorted([f"{a['peel_tx']}:utxo:0", f"{a['peel_tx']}:utxo:1", f"{a['join_tx']}:utxo:0",
                                 f"{a['join_tx']}:co-spend:1", f"{a['peel_tx']}:fee:0", f"{a['join_tx']}:fee:0"])
        bad = a["next"][:-1] + ("a" if a["next"][-1] != "a" else "b")
        refused = run_cli("trace", bad, "--follow-btc", "--btc-url", server.url, *base)
        assert refused.exit_code == 2 and "neither 0x" in refused.stderr and len(refused.stderr.splitlines()) == 1
        hint = run_cli("trace", DEST, *base)
        assert hint.exit_code == 2 and "is a Bitcoin address: trace it with --follow-btc" in hint.stderr
        alone = run_cli("trace", a["next"], "--btc-url", server.url, *base)
        assert alone.exit_code == 2 and "--follow-btc" in alone.stderr


def _tx(inputs: int, values: list[int], paid: int = 10**8, senders: int | None = None):
    """`inputs` coins of `paid` sats from `senders` addresses (default: one each) into outputs of `values`."""
    from tracer.sources.esplora import BtcInput, BtcOutput, BtcTx

    senders = senders or inputs
    ins = tuple(BtcInput("ab" * 32, i, p2pkh(f"in{i % senders}"), paid) for i in range(inputs))
    outs = tuple(BtcOutput(n, p2pkh(f"out{n}"), v, "p2pkh") for n, v in enumerate(values))
    return BtcTx("cd" * 32, HEIGHT0, 0, ins, outs, 1000)


@pytest.mark.parametrize("tx,kind", [
    (_tx(5, [1_000_000] * 5, paid=1_000_000), "whirlpool"),  # a Whirlpool 0.01 BTC remix: five in, five out
    (_tx(6, [50_000_000] * 6, paid=50_000_100), "whirlpool"),  # new entrants pay the pool plus the miner fee
    (_tx(25, [10_000] * 8 + [20_000] * 8 + [40_000] * 8 + [7_777], paid=60_000), "wasabi2"),
    (_tx(4, [3_000_000] * 3 + [123_456]), "joinmarket"),  # three equal, one change, four parties
    (_tx(3, [2_000] * 3 + [10, 20]), "equal-outputs"),  # BlockSci: three of five equal, below JoinMarket's floor
    (_tx(2, [1_000_000, 1_000_000, 555]), None),  # Stonewall-shaped: a payment and its decoy
    (_tx(1, [1_000_000] * 5), None),  # one input: a batch payout, not a mix
    (_tx(3, [1_000, 2_000, 3_000]), None),
    # a thief's own splits into round equal amounts are payments, followed (one address's coins in)
    (_tx(2, [10**8] * 3 + [5_000_000], paid=2 * 10**8, senders=1), None),
    (_tx(2, [10**8] * 10 + [5_000_000], paid=6 * 10**8, senders=1), None),
    (_tx(25, [10**8, 10**8, 2 * 10**8, 2 * 10**8, 3 * 10**8, 3 * 10**8], senders=1), None),
    (_tx(5, [1_000_000] * 5, paid=1_000_000, senders=1), None),
    (_tx(3, [1_000_000] * 4 + [7_000_000, 9_000_000]), None),  # an exchange's batch: four equal, three parties
    (_tx(6, [50_000_000] * 6), None),  # Whirlpool-shaped outputs, but inputs that are no pool's
])
def test_coinjoin_shapes_are_told_from_payments(tx, kind):
    from tracer.btc import coinjoin_kind

    assert coinjoin_kind(tx) == kind


def test_a_coinjoins_outputs_are_not_followed(tmp_path):
    from explorer_server import Chain, ExplorerServer

    chain = BtcChain()
    seed = p2pkh("mixer-user")
    coins = [chain.coinbase(seed, 1_000_100, HEIGHT0)] + [chain.coinbase(p2pkh(f"peer{i}"), 1_000_100, HEIGHT0)
                                                          for i in range(4)]
    outs = [(p2pkh(f"mixed{i}"), 1_000_000) for i in range(5)]
    mix = chain.spend([(c, 0) for c in coins], outs, HEIGHT0 + 1)
    db = tmp_path / "case.db"
    with EsploraServer(chain) as server, ExplorerServer(Chain(head=100)) as home:
        result = run_cli("trace", seed, "--follow-btc", "--btc-url", server.url, "--btc-rate", "1000", "--hops", "3",
                         "--db", db, "--explorer-url", home.url, "--rate", "1000", "--json", "--quiet")
        assert result.exit_code == 0, result.output
        assert not any(p.startswith(f"/api/address/{p2pkh('mixed0')}") for p in server.log)
    conn = sqlite3.connect(db)
    flags = {r[0] for r in conn.execute("SELECT flags FROM transfers WHERE tx_hash=? AND kind='utxo'", (mix,))}
    followed = {r[0] for r in conn.execute("SELECT address FROM addresses WHERE followed=1")}
    conn.close()
    assert flags == {"coinjoin,coinjoin-whirlpool"} and followed == {f"btc:{seed}"}


def _deposits(home, seed: str, vault: str, dests: list[str]) -> list[str]:
    b = scenario.Builder(home)
    b.fund(seed, 100 * ETHER)
    return [b.send(seed, vault, 5 * ETHER, data="0x" + f"=:BTC.BTC:{d}".encode().hex()) for d in dests]


def _trace(db, home, server, *extra):
    return run_cli("trace", scenario.addr("btc-seed"), "--db", db, "--rpc-url", home.url, "--follow-btc",
                   "--btc-url", server.url, "--btc-rate", "1000", "--hops", "3", "--json", "--quiet", *extra)


@needs_anvil
def test_a_swap_paid_out_in_parts_starts_the_leg_at_the_first_part_and_forged_memos_move_nothing(tmp_path):
    seed, vault = scenario.addr("btc-seed"), scenario.addr("btc-thor-vault")
    with Anvil(chain_id=1) as home:
        deposit, = _deposits(home, seed, vault, [DEST])
        memo = b"OUT:" + deposit[2:].upper().encode()
        btc = BtcChain()
        thor, stranger = p2pkh("thor-vault"), p2pkh("forger")
        old = btc.coinbase(stranger, 10**8, HEIGHT0 - 30)
        # a replay of the memo mined hours before the deposit: proves nothing, and what follows it is no trail
        early = btc.spend([(old, 0)], [(DEST, 50_000_000), (stranger, 49_990_000)], HEIGHT0 - 20, op_return=memo)
        btc.spend([(early, 1)], [(p2pkh("ancient"), 49_990_000)], HEIGHT0 - 19)
        funds = btc.coinbase(thor, 50 * BTC, HEIGHT0 + 1)
        part1 = btc.spend([(funds, 0)], [(DEST, 10_000_000), (thor, 50 * BTC - 10_010_000)], HEIGHT0 + 5, op_return=memo)
        btc.spend([(part1, 1)], [(p2pkh("first-part"), 9_990_000)], HEIGHT0 + 6)
        part2 = btc.spend([(part1, 2)], [(DEST, 10_000_000), (thor, 50 * BTC - 20_030_000)], HEIGHT0 + 8, op_return=memo)
        btc.spend([(part2, 1)], [(p2pkh("second-part"), 9_990_000)], HEIGHT0 + 9)
        forged = btc.coinbase(stranger, 10**6, HEIGHT0 + 10)
        btc.spend([(forged, 0)], [(DEST, 1_000), (stranger, 989_000)], HEIGHT0 + 11, op_return=memo)  # later dust
        db = tmp_path / "case.db"
        with EsploraServer(btc) as server:
            runs = []
            for _ in range(2):
                result = _trace(db, home, server, "--graphml", tmp_path / "g.graphml")
                assert result.exit_code == 0, result.output
                runs.append(nx.read_graphml(tmp_path / "g.graphml", force_multigraph=True))
    for graph in runs:  # the same graph on both nights
        assert graph.nodes[f"btc:{p2pkh('first-part')}"]["hop"] == 2
        assert graph.nodes[f"btc:{p2pkh('second-part')}"]["hop"] == 2
        assert f"btc:{p2pkh('ancient')}" not in graph
    conn = sqlite3.connect(db)
    flags, detail = conn.execute("SELECT flags, detail FROM exits WHERE tx_hash=?", (deposit,)).fetchone()
    reach = conn.execute("SELECT reach_block FROM addresses WHERE address=?", (f"btc:{DEST}",)).fetchone()[0]
    conn.close()
    assert "verified" in flags and json.loads(detail)["btc_outbound"] == part1 and reach == HEIGHT0 + 5


@needs_anvil
def test_a_crossing_is_verified_on_the_next_run_when_the_run_that_read_it_failed_before_the_check(tmp_path):
    seed, vault = scenario.addr("btc-seed"), scenario.addr("btc-thor-vault")
    other = p2pkh("second-destination")
    with Anvil(chain_id=1) as home:
        deposit, _ = _deposits(home, seed, vault, [DEST, other])
        btc, a = build_btc(deposit)
        db = tmp_path / "case.db"
        with EsploraServer(btc) as server:
            server.failing.add(other)  # the hop's other Bitcoin address cannot be read: the run fails after DEST
            failed = _trace(db, home, server)
            assert failed.exit_code == 6 and "HTTP 500" in failed.stderr, failed.output
            server.failing.clear()
            result = _trace(db, home, server, "--graphml", tmp_path / "g.graphml")
            assert result.exit_code == 0, result.output
    graph = nx.read_graphml(tmp_path / "g.graphml", force_multigraph=True)
    bridge = [d for u, v, d in graph.edges(data=True) if d["kind"] == "bridge" and v == f"btc:{DEST}"]
    assert "verified" in bridge[0]["flags"]
    assert f"btc:{a['before']}" not in graph  # the leg starts at the outbound: the past before it is not followed
    assert graph.nodes[f"btc:{a['next']}"]["hop"] == 2


@needs_anvil
def test_an_address_the_server_cannot_list_whole_waits_for_the_next_run_and_the_rest_goes_on(tmp_path):
    seed, vault = scenario.addr("btc-seed"), scenario.addr("btc-thor-vault")
    with Anvil(chain_id=1) as home:
        deposit, = _deposits(home, seed, vault, [DEST])
        btc, a = build_btc(deposit)
        db = tmp_path / "case.db"
        with EsploraServer(btc, "mempool") as server:
            server.missing_prevout.add(a["peel_tx"])  # mempool.space leaves it out of DEST's and next's lists
            first = _trace(db, home, server)
            assert first.exit_code == 0, first.output
            assert "ended after" in first.stderr and f"btc:{DEST}" in json.loads(first.stdout)["not_yet_indexed"]
            server.missing_prevout.clear()
            _trace(db, home, server, "--graphml", tmp_path / "g.graphml")
    graph = nx.read_graphml(tmp_path / "g.graphml", force_multigraph=True)
    assert graph.nodes[f"btc:{a['next']}"]["hop"] == 2  # read whole the next time
