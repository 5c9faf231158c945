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

CUT_BLOCK = 21895450  # the chain "as of last night": mid-way through the hop-2 swaps
MARGIN = 12


def cursors(db_path) -> dict[tuple[str, str], int]:
    conn = sqlite3.connect(db_path)
    try:
        return {(a, act): to for a, act, to in conn.execute("SELECT address, action, scanned_to FROM cursors")}
    finally:
        conn.close()


def test_rerun_after_the_chain_grew_equals_a_fresh_trace(fixture_chain, tmp_path):
    nightly_db, fresh_db = tmp_path / "nightly.db", tmp_path / "fresh.db"
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


def test_a_killed_run_loses_nothing_and_the_rerun_completes_it(fixture_chain, tmp_path):
    """SIGKILL a real `tracer trace` mid-run, rerun it: same store as one uninterrupted run."""
    killed_db, fresh_db = tmp_path / "killed.db", tmp_path / "fresh.db"
    with ExplorerServer(fixture_chain, latency=0.05) as server:
        cmd = [sys.executable, "-c", "import cli; cli.main()", "trace", "0x47666fab8bd0ac7003bce3f5c3585383f09486e2",
               "--db", str(killed_db), "--explorer-url", server.url, "--rate", "40", "--quiet"]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if killed_db.exists():
                try:
                    done = len({a for a, _ in cursors(killed_db)})
                except sqlite3.OperationalError:
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
    conn = sqlite3.connect(killed_db)
    statuses = [s for (s,) in conn.execute("SELECT status FROM runs ORDER BY id")]
    conn.close()
    assert statuses == ["killed", "ok"]
