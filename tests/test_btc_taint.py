"""Taint on Bitcoin: a transaction pools its inputs' tainted shares and splits them over its outputs and fee to
the satoshi; a verified crossing brings the deposit's tainted share over the bridge; `tracer exits` ranks the
Bitcoin endpoints beside the Ethereum ones."""

from __future__ import annotations

import json

import networkx as nx
import pytest

import scenario
from anvil import Anvil
from btc_helpers import p2pkh
from conftest import needs_anvil
from esplora_server import HEIGHT0, BtcChain, EsploraServer
from helpers import run_cli
from test_bitcoin_leg import DEST, build_btc
import test_report
from test_report import _open

ETHER = 10**18
browser = test_report.browser  # the headless chromium fixture, shared with the report's tests


def _conserved(store, taint) -> tuple[int, int]:
    """(what entered Bitcoin's trail, what is held by followed addresses plus what reached the rest)."""
    from tracer.taint import BTC_CLASS

    followed = {r["address"] for r in store.conn.execute("SELECT address FROM addresses WHERE followed=1 AND hop>0")}
    held = sum(taint.held.get(a, {}).get(BTC_CLASS, 0) for a in followed)
    ended = sum(by[BTC_CLASS] for a, by in taint.reached.items() if a not in followed and BTC_CLASS in by)
    return taint.from_seeds.get(BTC_CLASS, 0) + taint.crossed.get(BTC_CLASS, 0), held + ended


def test_split_exactly_adds_up_and_never_exceeds_a_part():
    from tracer.taint import split_exactly

    for total, parts in [(1_000_100, [10**6] * 5 + [500]), (7, [1, 1, 1]), (10**15, [3, 7, 11, 13]), (5, [0, 9]),
                         (99, [10])]:
        shares = split_exactly(total, parts)
        assert sum(shares) == min(total, sum(parts)) and all(0 <= s <= p for s, p in zip(shares, parts))
    assert split_exactly(2, [1, 1, 1]) == [1, 1, 0]  # ties go to the first


def test_a_coinjoin_splits_a_seeds_coin_over_its_outputs_and_fee_and_ranks_them_as_mixers(tmp_path):
    from explorer_server import Chain, ExplorerServer
    from tracer.store import Store
    from tracer.taint import compute

    chain = BtcChain()
    seed = p2pkh("mixer-user")
    coins = [chain.coinbase(seed, 1_000_100, HEIGHT0)] + [chain.coinbase(p2pkh(f"peer{i}"), 1_000_100, HEIGHT0)
                                                          for i in range(4)]
    chain.spend([(c, 0) for c in coins], [(p2pkh(f"mixed{i}"), 1_000_000) for i in range(5)], HEIGHT0 + 1)
    db = tmp_path / "case.db"
    with EsploraServer(chain) as server, ExplorerServer(Chain(head=100)) as home:
        result = run_cli("trace", seed, "--follow-btc", "--btc-url", server.url, "--btc-rate", "1000", "--hops", "3",
                         "--db", db, "--explorer-url", home.url, "--rate", "1000", "--json", "--quiet")
        assert result.exit_code == 0, result.output
    store = Store.open(db, create=False)
    try:
        taint = compute(store)
        assert _conserved(store, taint) == (1_000_100, 1_000_100)  # the seed's coin: 5 × 200,000 and 100 of fee
        assert taint.btc("btc:fee") == 100
    finally:
        store.close()
    rows = json.loads(run_cli("exits", "--db", db, "--json").stdout)
    assert [(r["address"], r["kind"], r["asset"], r["taint_sats"], r["eth_equivalent"], r["label"]) for r in rows] == [
        (f"btc:{p2pkh(f'mixed{i}')}", "mixer", "BTC", "200000", False, "CoinJoin output (whirlpool)")
        for i in sorted(range(5), key=lambda i: f"btc:{p2pkh(f'mixed{i}')}")]
    table = run_cli("exits", "--db", db, "--format", "tsv").stdout.splitlines()
    assert table[1].split("\t")[1:4] == ["", "0.002", "mixer"]  # no crossing: no ETH figure is made up


@pytest.fixture(scope="module")
def crossed(tmp_path_factory):
    return make_crossed(tmp_path_factory.mktemp("crossed"))


def make_crossed(tmp) -> dict:
    """One trace from an Ethereum THORChain deposit (anvil) across into Bitcoin (build_btc), with its graph and
    its HTML report."""
    seed, vault = scenario.addr("btc-seed"), scenario.addr("btc-thor-vault")
    with Anvil(chain_id=1) as home:
        b = scenario.Builder(home)
        b.fund(seed, 100 * ETHER)
        deposit = b.send(seed, vault, 5 * ETHER, data="0x" + f"=:BTC.BTC:{DEST}".encode().hex())
        btc, a = build_btc(deposit)
        db, graphml = tmp / "case.db", tmp / "g.graphml"
        with EsploraServer(btc) as server:
            result = run_cli("trace", seed, "--db", db, "--rpc-url", home.url, "--follow-btc", "--btc-url", server.url,
                             "--btc-rate", "1000", "--hops", "4", "--json", "--quiet", "--graphml", graphml)
            assert result.exit_code == 0, result.output
    html = tmp / "report.html"
    made = run_cli("report", "--db", db, "--out", html)
    assert made.exit_code == 0, made.output
    return {"db": db, "graphml": graphml, "html": html, "a": a, "deposit": deposit, "seed": seed}


@needs_anvil
def test_taint_crosses_the_bridge_and_is_conserved_to_the_satoshi(crossed):
    from tracer.store import Store
    from tracer.taint import BTC_CLASS, compute

    db, graphml, a = crossed["db"], crossed["graphml"], crossed["a"]
    store = Store.open(db, create=False)
    try:
        taint = compute(store)
        assert taint.crossed[BTC_CLASS] == 20_000_000 and taint.crossed_wei == 5 * ETHER  # all of it was traced
        assert _conserved(store, taint) == (20_000_000, 20_000_000)
        node = lambda k: f"btc:{a[k]}"  # noqa: E731
        # DEST pays 15,000,000 on and peels 4,990,000 off (10,000 of fee); `next` is pooled with a stranger's
        # 2 BTC: its 15,000,000 tainted sats are split over the 214,990,000 out and the 10,000 of fee
        assert taint.held[node("peel")][BTC_CLASS] == 4_990_000
        assert taint.held[node("joined")][BTC_CLASS] == 14_999_302
        assert taint.btc("btc:fee") == 10_000 + 698
        assert taint.btc(node("stranger")) == 0 and taint.btc(node("vault")) == 0
        assert taint.btc(node("before")) == 0  # DEST's past before the crossing carries nothing
    finally:
        store.close()
    graph = nx.read_graphml(graphml, force_multigraph=True)
    bridge, = [d for _, _, d in graph.edges(data=True) if d["kind"] == "bridge"]
    assert (bridge["amount"], bridge["received_asset"], bridge["received_amount"]) == (str(5 * ETHER), "BTC",
                                                                                         "20000000")
    assert graph.nodes[f"btc:{a['joined']}"]["taint_sats"] == "14999302"
    rows = json.loads(run_cli("exits", "--db", db, "--json").stdout)
    ranked = [(r["kind"], r["asset"], r["taint_wei"], r["taint_sats"]) for r in rows]
    wei = lambda sats: str(sats * 5 * ETHER // 20_000_000)  # noqa: E731 - the crossing's rate
    assert ranked == [
        ("bridge", "ETH", str(5 * ETHER), "0"),  # the THORChain vault (known from the memo sent to it)
        ("dormant holder", "BTC", wei(14_999_302), "14999302"),
        ("dormant holder", "BTC", wei(4_990_000), "4990000"),
    ], ranked


@needs_anvil
def test_the_report_draws_bitcoin_in_its_own_lane_and_the_crossing_between(crossed, browser):
    import re

    html = crossed["html"].read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="tracer-data">(.*?)</script>', html, re.S)
                      .group(1).replace("<\\/", "</"))
    nodes = {n["id"]: n for n in data["graph"]["nodes"]}
    eth = [n for n in nodes.values() if n["lane"] == "eth"]
    btc = [n for n in nodes.values() if n["lane"] == "btc"]
    assert eth and btc
    joined = nodes[f"btc:{crossed['a']['joined']}"]
    assert joined["taint"] == "0.14999302 BTC" and joined["link"].startswith("https://mempool.space/address/")
    crossing, = [e for e in data["graph"]["edges"] if e["crossing"]]
    assert (crossing["source"], crossing["target"]) == (crossed["seed"], f"btc:{DEST}")
    assert (crossing["amount"], crossing["received"]) == ("5", "0.2 BTC")
    utxo = next(e for e in data["graph"]["edges"] if e["kind"] == "utxo")
    assert utxo["txs"][0]["link"] == f"https://mempool.space/tx/{utxo['txs'][0]['tx_hash']}"
    page, seen = _open(browser, crossed["html"])
    try:
        label = page.evaluate("window.tracerReport.cy.edges('[?crossing]').map(function (e) {"
                              " return e.style('label'); })")
        assert len(label) == 1 and label[0].startswith("5 ETH → 0.2 BTC\n")  # (then the day it crossed)
        y = page.evaluate("Object.fromEntries(window.tracerReport.cy.nodes().filter(n => !n.hasClass('hidden'))"
                          ".map(n => [n.id(), n.position().y]))")
        drawn_eth = [y[n["id"]] for n in eth if n["id"] in y]
        drawn_btc = [y[n["id"]] for n in btc if n["id"] in y]
        assert drawn_eth and drawn_btc and max(drawn_eth) < min(drawn_btc)  # Bitcoin's lane below Ethereum's
        assert not seen["errors"] and not [c for c in seen["console"] if c.startswith("error")]
        assert all(u.startswith("file://") for u in seen["requests"])
    finally:
        page.close()
