"""Nightly reruns: only new blocks are fetched, and the result equals one fresh trace."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from explorer_server import ExplorerServer
from helpers import store_snapshot, trace

from tracer.errors import StoreError

CUT_BLOCK = 21895450  # the chain "as of last night": mid-way through the hop-2 swaps
MARGIN = 12


def cursors(db) -> dict[tuple[str, str], int]:
    """The store's scan cursors, read as any reader would (a file or a PostgreSQL case)."""
    from tracer.store import Store

    store = Store.open(str(db), create=False)
    try:
        return {(a, act): to for a, act, to in store.conn.execute("SELECT address, action, scanned_to FROM cursors")}
    finally:
        store.close()


def statuses(db) -> list[str]:
    from tracer.store import Store

    store = Store.open(str(db), create=False)
    try:
        return [r["status"] for r in store.runs()]
    finally:
        store.close()


def two_stores(store_at: str, tmp_path) -> tuple[str, str]:
    """Two stores on the test's backend: the one a test works on, and a fresh one to compare with."""
    return store_at, (store_at + "-fresh" if "://" in store_at else str(tmp_path / "fresh.db"))


def test_rerun_after_the_chain_grew_equals_a_fresh_trace(fixture_chain, tmp_path, store_at):
    nightly_db, fresh_db = two_stores(store_at, tmp_path)
    with ExplorerServer(fixture_chain) as server:
        fixture_chain.visible_to = CUT_BLOCK
        first = trace(server, nightly_db)
        before = cursors(nightly_db)
        assert before and all(to == CUT_BLOCK for to in before.values())

        fixture_chain.visible_to = None  # a day later: the rest of the records exist
        server.log.clear()
        second = trace(server, nightly_db)
        for q in server.log:
            if q.get("module") != "account":
                continue
            key = (q["address"], q["action"])
            if key in before:  # an address fetched last night: only blocks after its cursor (minus the margin)
                assert int(q["startblock"]) >= before[key] - MARGIN + 1, q

        trace(server, fresh_db)
    assert first["new_transfers"] > 0 and second["new_transfers"] > 0
    assert store_snapshot(nightly_db) == store_snapshot(fresh_db)


def test_nightly_json_reports_what_is_new_per_hop(fixture_chain, tmp_path):
    db = tmp_path / "case.db"
    with ExplorerServer(fixture_chain) as server:
        fixture_chain.visible_to = 21895330  # before most of hop 1
        trace(server, db)
        fixture_chain.visible_to = None
        second = trace(server, db)
        third = trace(server, db)
    for key in ("new_transfers", "new_addresses", "followed_addresses", "requests"):
        assert key in second
    assert second["new_addresses"] > 0
    assert sum(h["new_transfers"] for h in second["hops"]) == second["new_transfers"]
    assert third["new_transfers"] == 0 and third["new_addresses"] == 0


def test_a_killed_run_loses_nothing_and_the_rerun_completes_it(fixture_chain, tmp_path, store_at):
    """SIGKILL a real `tracer trace` mid-run, rerun it: same store as one uninterrupted run."""
    killed_db, fresh_db = two_stores(store_at, tmp_path)
    with ExplorerServer(fixture_chain, latency=0.05) as server:
        cmd = [sys.executable, "-c", "import cli; cli.main()", "trace", "0x47666fab8bd0ac7003bce3f5c3585383f09486e2",
               "--db", str(killed_db), "--explorer-url", server.url, "--rate", "40", "--quiet"]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                done = len({a for a, _ in cursors(killed_db)})
            except (sqlite3.OperationalError, StoreError):  # not made yet
                done = 0
            if done >= 5:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = len({a for a, _ in cursors(killed_db)})
        assert 5 <= partial < 44, "the run should have been cut mid-way"

        trace(server, killed_db)
        trace(server, fresh_db)
    assert store_snapshot(killed_db) == store_snapshot(fresh_db)
    assert statuses(killed_db) == ["killed", "ok"]


def test_rerun_with_nothing_new_is_a_balance_screen(fixture_chain, tmp_path):
    """Nightly with no activity: one balancemulti per 20 tracked addresses, token checks for holders."""
    db = tmp_path / "case.db"
    with ExplorerServer(fixture_chain) as server:
        first = trace(server, db)
        server.log.clear()
        second = trace(server, db)
        actions = [q["action"] for q in server.log]
    assert second["new_transfers"] == 0 and second["unchanged_skipped"] == first["followed_addresses"]
    # the head block, one balancemulti per 20 addresses of each hop (1 + 3 + 1), and one tokenbalance
    # for the one address still holding a traced token (0x1542…: 15,000 cmETH); nothing else
    assert sorted(actions) == sorted(["eth_blockNumber"] + ["balancemulti"] * 5 + ["tokenbalance"]), actions


def test_screen_catches_a_token_moved_by_an_approved_spender(fixture_chain, tmp_path):
    """A transferFrom costs the owner no gas: its ETH balance stays, its token balance does not."""
    db = tmp_path / "case.db"
    holder = "0x1542368a03ad1f03d96d51b414f4738961cf4443"  # holds 15,000 cmETH from the exploiter
    with ExplorerServer(fixture_chain) as server:
        trace(server, db)
        fixture_chain.records["tokentx"].append({
            "blockNumber": str(fixture_chain.head - 5), "timeStamp": "1740200000", "hash": "0x" + "f1" * 32,
            "from": holder, "to": "0x" + "77" * 20, "value": str(1000 * 10**18),
            "contractAddress": "0xe6829d9a7ee3040e1276fa75293bde931859e8fa", "tokenSymbol": "cmETH",
            "tokenDecimal": "18"})
        server.log.clear()
        second = trace(server, db)
        fetched = {q["address"] for q in server.log if q.get("action") == "tokentx"}
    assert fetched - {"0x" + "77" * 20} == {holder}  # only the holder was refetched (and the new hop it opened)
    assert second["new_transfers"] == 1 and second["new_addresses"] == 1


def test_screen_can_be_turned_off(fixture_chain, tmp_path):
    db = tmp_path / "case.db"
    with ExplorerServer(fixture_chain) as server:
        first = trace(server, db)
        server.log.clear()
        trace(server, db, "--no-screen")
        assert sum(q.get("action") == "txlist" for q in server.log) == first["followed_addresses"]
