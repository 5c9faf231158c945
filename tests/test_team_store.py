"""One case, a whole team: the store on a real PostgreSQL server (a throwaway cluster, tests/pg_server.py) beside
SQLite: moving a case between them exactly, listing a database's cases, one trace per case, readers that
never wait and see only committed batches, and the password kept out of everything printed or stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from explorer_server import ExplorerServer
from helpers import run_cli, store_snapshot, trace
from pg_server import PASSWORD

from tracer.errors import StoreError
from tracer.store import Store
from tracer.store.copy import TABLES

ROOT = Path(__file__).resolve().parents[1]
SEED = "0x47666Fab8bd0Ac7003bce3f5C3585383F09486E2"


def dump(target) -> dict[str, list[str]]:
    """Every table's rows, sorted, as JSON text: two stores holding the same case dump the same."""
    store = Store.open(str(target), create=False)
    try:
        out = {}
        for table in TABLES:
            rows = store.conn.execute(f"SELECT * FROM {table}").fetchall()
            out[table] = sorted(json.dumps(dict(zip(r.keys(), tuple(r))), sort_keys=True) for r in rows)
        return out
    finally:
        store.close()


def test_a_case_goes_sqlite_to_postgresql_to_sqlite_unchanged(explorer, tmp_path, pg_server):
    first, back = tmp_path / "case.db", tmp_path / "back.db"
    trace(explorer, first, "--hops", "2")
    assert run_cli("labels", "import", str(write_labels(tmp_path)), "--db", first).exit_code == 0
    shared = pg_server.url_for("bybit-2025-02")

    to_pg = run_cli("store", "copy", str(first), shared)
    assert to_pg.exit_code == 0, to_pg.output
    assert PASSWORD not in to_pg.output and "case=bybit-2025-02" in to_pg.stdout
    assert run_cli("store", "copy", shared, str(back)).exit_code == 0
    original = dump(first)
    assert original["transfers"] and original["runs"] and original["cursors"] and original["labels"]
    assert dump(shared) == original
    assert dump(back) == original
    # the exports a reader makes are byte-identical from all three
    outs = []
    for i, where in enumerate((first, shared, back)):
        out = tmp_path / f"g{i}.graphml"
        assert run_cli("export", "--db", str(where), "--out", out).exit_code == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]

    # a nightly run goes on from the copied cursors: nothing new, on either side
    again = trace(explorer, shared, "--hops", "2")
    assert again["new_transfers"] == 0 and again["new_addresses"] == 0


def test_a_copy_never_overwrites_a_case_unless_told(explorer, tmp_path, pg_server):
    a, b = tmp_path / "a.db", pg_server.url_for("taken")
    trace(explorer, a, "--hops", "1")
    trace(explorer, b, "--hops", "0")
    before = dump(b)
    refused = run_cli("store", "copy", str(a), b)
    assert refused.exit_code != 0 and "not empty" in refused.stderr and "--replace" in refused.stderr
    assert refused.stderr.count("\n") == 1 and PASSWORD not in refused.stderr
    assert dump(b) == before
    assert run_cli("store", "copy", str(a), b, "--replace").exit_code == 0
    assert dump(b) == dump(a)
    same = run_cli("store", "copy", str(a), str(a))
    assert same.exit_code != 0 and "same store" in same.stderr
    missing = run_cli("store", "copy", str(tmp_path / "none.db"), str(tmp_path / "x.db"))
    assert missing.exit_code != 0 and "no store" in missing.stderr


def test_cases_lists_every_case_of_the_database_with_its_last_run(explorer, pg_server):
    trace(explorer, pg_server.url_for("listed-one"), "--hops", "0")
    trace(explorer, pg_server.url_for("listed-two"), "--hops", "0")
    listed = run_cli("cases", "--db", pg_server.url, "--json")
    assert listed.exit_code == 0, listed.output
    rows = {r["case"]: r for r in json.loads(listed.stdout)}
    assert {"listed-one", "listed-two"} <= set(rows)
    assert rows["listed-one"]["runs"] == 1 and rows["listed-one"]["last_run_status"] == "ok"
    text = run_cli("cases", "--db", pg_server.url)
    assert "listed-two" in text.stdout and PASSWORD not in text.output


@pytest.mark.parametrize("bad, says", [
    ("?case=Bad Name", "not a valid case name"),
    ("?case=pg_catalog", "not a valid case name"),
])
def test_a_bad_case_name_is_one_line(pg_server, bad, says):
    result = run_cli("show", SEED, "--db", pg_server.url + bad)
    assert result.exit_code != 0 and says in result.stderr and result.stderr.count("\n") == 1


def test_a_wrong_password_or_a_dead_server_is_one_line_without_the_password(pg_server, tmp_path):
    wrong = pg_server.url.replace(PASSWORD, "not-" + PASSWORD)
    result = run_cli("trace", SEED, "--db", wrong + "?case=x", "--explorer-url", "http://127.0.0.1:9", "--quiet")
    assert result.exit_code != 0 and "refused the login" in result.stderr
    assert result.stderr.count("\n") == 1 and PASSWORD not in result.stderr and "Traceback" not in result.stderr
    dead = f"postgresql://tracer:{PASSWORD}@127.0.0.1:9/tracer"
    result = run_cli("exits", "--db", dead)
    assert result.exit_code != 0 and "cannot be reached" in result.stderr and PASSWORD not in result.stderr


def test_the_password_is_never_printed_stored_or_reported(explorer, tmp_path, pg_server, monkeypatch):
    """In the URL, in PGPASSWORD, or in ~/.pgpass: it works, and appears nowhere."""
    home = tmp_path / "home"
    home.mkdir()
    pgpass = home / ".pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_server.port}:tracer:tracer:{PASSWORD}\n")
    pgpass.chmod(0o600)
    bare = f"postgresql://tracer@127.0.0.1:{pg_server.port}/tracer"
    outputs = []
    for case, url, env in (("secret-url", pg_server.url_for("secret-url"), {}),
                           ("secret-env", bare + "?case=secret-env", {"PGPASSWORD": PASSWORD}),
                           ("secret-file", bare + "?case=secret-file&sslmode=disable",
                            {"HOME": str(home), "PGPASSFILE": str(pgpass)})):
        result = run_cli("trace", SEED, "--db", url, "--explorer-url", explorer.url, "--rate", "200", "--hops", "1",
                         "--json", env=env)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
        for fmt in ("html", "md"):
            out = tmp_path / f"report-{len(outputs)}.{fmt}"
            done = run_cli("report", "--db", url, "--out", out, "--format", fmt, env=env)
            assert done.exit_code == 0, done.output
            outputs += [done.output, out.read_text(encoding="utf-8")]
        outputs.append(json.dumps(dump(pg_server.url_for(case))))  # every stored row, run parameters included
    for text in outputs:
        assert PASSWORD not in text


def test_one_trace_per_case_and_readers_never_wait(fixture_chain, tmp_path, store_at):
    """A second trace of a running case gives up clearly; readers read meanwhile, each from one committed
    state: every address whose scan cursor is stored is stored as followed (they are committed together), and
    two reads of one reader agree however far the trace got between them."""
    with ExplorerServer(fixture_chain, latency=0.03) as server:
        cmd = [sys.executable, "-c", "import cli; cli.main()", "trace", SEED, "--db", store_at,
               "--explorer-url", server.url, "--rate", "15", "--quiet"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        seen: set[int] = set()
        second = None
        try:
            while proc.poll() is None:
                try:
                    reader = Store.open(store_at, create=False)
                except StoreError:
                    time.sleep(0.05)  # not made yet
                    continue
                started = time.monotonic()
                reader.hold_snapshot()
                count = reader.count_transfers()
                cursor_addresses = {r[0] for r in reader.conn.execute("SELECT DISTINCT address FROM cursors")}
                followed = {r[0] for r in reader.conn.execute("SELECT address FROM addresses WHERE followed=1")}
                time.sleep(0.1)
                assert reader.count_transfers() == count  # one snapshot, whatever was committed meanwhile
                reader.close()
                assert time.monotonic() - started < 2.0  # never waited for the trace
                assert cursor_addresses <= followed
                seen.add(count)
                if second is None and count:
                    second = run_cli("trace", SEED, "--db", store_at, "--explorer-url", server.url, "--quiet")
        finally:
            proc.wait(timeout=120)
        assert proc.returncode == 0, proc.stderr.read()
    assert second is not None and second.exit_code != 0
    assert "in use by another tracer run" in second.stderr and second.stderr.count("\n") == 1
    assert len(seen) >= 2, "the readers should have seen the trace progress"
    assert store_snapshot(store_at)["transfers"]


def write_labels(tmp_path) -> Path:
    path = tmp_path / "sanctioned_addresses_ETH.json"  # OFAC's list, as tracer labels import reads it
    path.write_text(json.dumps(["0xa4b2fd68593b6f34e51cb9edb66e71c1b4ab449e"]))
    return path
