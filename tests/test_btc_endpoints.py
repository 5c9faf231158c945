"""Where a Bitcoin trail ends: a labelled service (a labels file, OFAC's XBT list), an address with more
transactions than a wallet has (never paged), and a run's Esplora budget (stops cleanly, the next run goes on)."""

from __future__ import annotations

import json
import sqlite3

from btc_helpers import p2pkh
from esplora_server import HEIGHT0, BtcChain, EsploraServer
from helpers import run_cli

BTC = 10**8


def _chain(busy_txs: int = 25) -> tuple[BtcChain, dict[str, str]]:
    """A seed pays an exchange's deposit address and a wallet; the wallet pays a busy address (a service's) and
    a second wallet."""
    chain = BtcChain()
    a = {k: p2pkh(k) for k in ("seed", "exchange", "wallet", "busy", "second", "after")}
    coin = chain.coinbase(a["seed"], 1 * BTC, HEIGHT0)
    pay = chain.spend([(coin, 0)], [(a["exchange"], 50_000_000), (a["wallet"], 49_999_000)], HEIGHT0 + 1)
    for i in range(busy_txs):  # the busy address's other business
        chain.spend([(chain.coinbase(p2pkh(f"customer{i}"), 100_000, HEIGHT0 + 1), 0)], [(a["busy"], 99_000)],
                    HEIGHT0 + 2)
    on = chain.spend([(pay, 1)], [(a["busy"], 20_000_000), (a["second"], 29_998_000)], HEIGHT0 + 3)
    chain.spend([(on, 1)], [(a["after"], 29_997_000)], HEIGHT0 + 4)
    return chain, a


def _trace(db, server, home, seed, *extra):
    return run_cli("trace", seed, "--follow-btc", "--btc-url", server.url, "--btc-rate", "1000", "--hops", "3",
                   "--max-degree", "20", "--db", db, "--explorer-url", home.url, "--rate", "1000", "--json",
                   "--quiet", *extra)


def test_a_labelled_exchange_and_a_busy_address_end_the_trail_and_rank_as_exits(tmp_path):
    from explorer_server import Chain, ExplorerServer

    chain, a = _chain()
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"labels": [{"address": a["exchange"], "label": "Example Exchange: deposit",
                                              "category": "exchange", "source": "the analyst's own deposit test"}]}))
    with EsploraServer(chain) as server, ExplorerServer(Chain(head=100)) as home:
        result = run_cli("--labels", labels, "trace", a["seed"], "--follow-btc", "--btc-url", server.url,
                         "--btc-rate", "1000", "--hops", "3", "--max-degree", "20", "--db", tmp_path / "l.db",
                         "--explorer-url", home.url, "--rate", "1000", "--json", "--quiet")
        assert result.exit_code == 0, result.output
        paged = {p.split("/")[3] for p in server.log if "/txs" in p}
        asked = {p.split("/")[3] for p in server.log if p.startswith("/api/address/")}
        esplora_requests, explorer_requests = len(server.log), len(home.log)
    # the exchange is never read; the busy address is counted (one /address) and never paged
    assert a["exchange"] not in asked and a["busy"] in asked and a["busy"] not in paged
    assert {a["seed"], a["wallet"], a["second"]} <= paged
    rows = json.loads(run_cli("--labels", labels, "exits", "--db", tmp_path / "l.db", "--json").stdout)
    got = {r["address"]: (r["kind"], r["label"], r["taint_sats"]) for r in rows}
    assert got[f"btc:{a['exchange']}"] == ("exchange", "Example Exchange: deposit", "50000000")
    assert got[f"btc:{a['busy']}"][0] == "service" and got[f"btc:{a['busy']}"][2] == "20000000"
    assert got[f"btc:{a['after']}"][0] == "dormant holder"
    conn = sqlite3.connect(tmp_path / "l.db")
    category = dict(conn.execute("SELECT address, category FROM addresses"))
    assert category[f"btc:{a['exchange']}"] == "exchange" and category[f"btc:{a['busy']}"] == "service"
    # today's requests are booked per service: the explorer's daily quota is not the Esplora host's
    usage = dict(conn.execute("SELECT service, requests FROM usage"))
    conn.close()
    assert usage.pop("esplora 127.0.0.1") == esplora_requests > 0
    assert list(usage.values()) == [explorer_requests]


def test_a_bitcoin_label_is_checked_like_any_other(tmp_path):
    bad = tmp_path / "labels.json"
    address = p2pkh("x")
    for entry, says in [({"address": address[:-1] + ("b" if address[-1] != "b" else "c")}, "nor a Bitcoin address"),
                        ({"address": address, "code": "contract"}, "no code and no decoder")]:
        bad.write_text(json.dumps({"labels": [{"label": "x", "category": "exchange", "source": "s", **entry}]}))
        result = run_cli("--labels", bad, "exits", "--db", tmp_path / "none.db")
        assert result.exit_code == 2 and says in result.stderr and len(result.stderr.splitlines()) == 1


def test_ofac_xbt_list_labels_bitcoin_nodes(tmp_path):
    from tracer.label_import import read_labels

    listing = tmp_path / "sanctioned_addresses_XBT.txt"
    good = p2pkh("sanctioned")
    listing.write_text(f"{good}\nnot-an-address\n{good[:-1]}x\n")
    assert [(x.address, x.category) for x in read_labels(listing)] == [(f"btc:{good}", "sanctioned")]


def test_a_run_that_spends_its_bitcoin_budget_stops_cleanly_and_the_next_goes_on(tmp_path):
    from explorer_server import Chain, ExplorerServer

    chain, a = _chain(busy_txs=3)
    with EsploraServer(chain) as server, ExplorerServer(Chain(head=100)) as home:
        fresh = _trace(tmp_path / "fresh.db", server, home, a["seed"])
        assert fresh.exit_code == 0, fresh.output
        budget = len(server.log) // 2
        db = tmp_path / "case.db"
        stopped = _trace(db, server, home, a["seed"], "--btc-max-requests", str(budget))
        assert stopped.exit_code != 0 and "--btc-max-requests" in stopped.stderr, stopped.output
        assert len(stopped.stderr.strip().splitlines()) == 1 and "Traceback" not in stopped.stderr
        server.log.clear()
        went_on = _trace(db, server, home, a["seed"])
        assert went_on.exit_code == 0, went_on.output

    def transfers(path):
        conn = sqlite3.connect(path)
        rows = sorted(conn.execute("SELECT id, from_addr, to_addr, amount, flags FROM transfers"))
        conn.close()
        return rows

    assert transfers(db) == transfers(tmp_path / "fresh.db")


def test_a_busy_address_read_while_blocks_arrive_loses_nothing_and_the_next_night_reads_only_new_pages(tmp_path):
    from explorer_server import Chain, ExplorerServer

    chain = BtcChain()
    seed, wallet, miner = p2pkh("seed"), p2pkh("wallet"), p2pkh("miner")
    paid = chain.spend([(chain.coinbase(seed, 1 * BTC, HEIGHT0), 0)], [(wallet, 99_999_000)], HEIGHT0 + 1)
    prev = (chain.coinbase(miner, 10**11, HEIGHT0 + 1), 0)
    for i in range(300):  # three hundred payments to the wallet, two to a block
        prev = (chain.spend([prev], [(wallet, 10_000), (miner, 10**11 - (i + 1) * 11_000)], HEIGHT0 + 2 + i // 2), 1)
    chain.spend([(paid, 0)], [(p2pkh("onward"), 99_998_000)], chain.tip + 1)
    arrived: list[str] = []

    def more(address, last):  # two new payments to the wallet before each of its later pages
        nonlocal prev
        if address == wallet and last is not None and len(arrived) < 6:
            for _ in range(2):
                left = chain.txs[prev[0]]["vout"][1]["value"] - 11_000
                txid = chain.spend([prev], [(wallet, 10_000), (miner, left)], chain.tip + 1)
                arrived.append(txid)
                prev = (txid, 1)

    with EsploraServer(chain) as server, ExplorerServer(Chain(head=100)) as home:
        server.before_page = more
        first = _trace(tmp_path / "case.db", server, home, seed, "--max-degree", "1000")
        assert first.exit_code == 0, first.output
        server.before_page = None
        assert len(arrived) == 6
        server.log.clear()
        night = _trace(tmp_path / "case.db", server, home, seed, "--max-degree", "1000")
        assert night.exit_code == 0, night.output
        night_pages = [p for p in server.log if "/txs/chain" in p]
        fresh = _trace(tmp_path / "fresh.db", server, home, seed, "--max-degree", "1000")
        assert fresh.exit_code == 0, fresh.output

    def transfers(path):
        conn = sqlite3.connect(path)
        rows = sorted(conn.execute("SELECT id, from_addr, to_addr, amount, flags FROM transfers"))
        conn.close()
        return rows

    assert transfers(tmp_path / "case.db") == transfers(tmp_path / "fresh.db")
    assert {t for t in arrived} <= {r[0].split(":")[0] for r in transfers(tmp_path / "case.db")}
    # the one address that changed: its newest page (six new, and the last six blocks again: BTC_REORG_MARGIN)
    assert night_pages == [f"/api/address/{wallet}/txs/chain"]


def test_an_address_reached_earlier_than_it_was_read_is_paged_once_for_both_ranges():
    import types

    from tracer.sources.base import FetchTask
    from tracer.sources.bitcoin import BTC_ACTION, BitcoinSource
    from tracer.sources.esplora import EsploraClient

    chain = BtcChain()
    wallet, miner = p2pkh("wallet"), p2pkh("miner")
    prev = (chain.coinbase(miner, 10**11, HEIGHT0), 0)
    for i in range(60):
        prev = (chain.spend([prev], [(wallet, 10_000), (miner, 10**11 - (i + 1) * 11_000)], HEIGHT0 + 1 + i), 1)
    home = types.SimpleNamespace(name="home", requests=0, rate_limited=0, actions=("txlist",))
    with EsploraServer(chain) as server:
        source = BitcoinSource(home, EsploraClient(server.url, rate=1000))
        node = f"btc:{wallet}"
        tasks = [FetchTask(node, BTC_ACTION, HEIGHT0 + 1, HEIGHT0 + 30), FetchTask(node, BTC_ACTION, HEIGHT0 + 50,
                                                                                   chain.tip)]
        got = {task.start: len({t.tx_hash for t in found}) for task, found in source.fetch(tasks)}
        pages = [p for p in server.log if "/txs/chain" in p]
    assert got == {HEIGHT0 + 1: 30, HEIGHT0 + 50: 11}
    assert len(pages) == 3  # 60 transactions, 25 a page: read once, not once per range
