"""News is never lost: what a run stored is announced by it or, if it never got to say so
(killed, interrupted, its output failed), by the next run; outputs are replaced, never half-written."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from explorer_server import ExplorerServer
from helpers import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import ETHER, Params, generate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXCH = "0xf1da173228fcf015f43f3ea15abbb51f0d8f1123"  # eXch hot wallet (data/labels.json)
TORNADO_10 = "0x910cbd523d972eb0a6f4cae4618ad62622b39dbf"


@pytest.fixture()
def theft():
    t = generate(Params(widths=(4, 4), peel_chains=2, peel_length=3, consolidations=2, consolidate_from=3,
                        transfers=600, dormant_ratio=0.3, blocks_per_layer=100))
    t.native(t.layers[0][0], EXCH, 3 * ETHER, t.next_block)
    t.native(t.layers[1][1], EXCH, 2 * ETHER, t.next_block + 1)
    t.native(t.layers[1][2], TORNADO_10, 10 * ETHER, t.next_block + 2)
    t.chain.head = t.next_block + 10
    return t


def _trace_command(server, db: Path, seed: str) -> list[str]:
    return [sys.executable, "-c", "import cli; cli.main()", "trace", seed, "--db", str(db), "--explorer-url",
            server.url, "--rate", "40", "--hops", "3", "--json", "--quiet", "--no-screen"]


def _trace_process(server, db: Path, seed: str) -> subprocess.Popen:
    return subprocess.Popen(_trace_command(server, db, seed), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _announced(news: dict, into: dict) -> None:
    """Add one run's announcement to a running union."""
    for h in news["hops"]:
        into["transfers"][h["hop"]] += h["new_transfers"]
        into["addresses"][h["hop"]] += h["new_addresses"]
        into["poison"][h["hop"]] += h["poison_transfers"]
        for m in h["moved"]:
            into["moved"][(h["hop"], m["token"])] += int(m["amount"])
    for e in news["new_exits"]:
        into["exits"][(e["address"], e["destination"])] += 1
        for m in e["moved"]:
            into["exit_moved"][(e["address"], m["token"])] += int(m["amount"])


def _empty() -> dict:
    return {k: Counter() for k in ("transfers", "addresses", "poison", "moved", "exits", "exit_moved")}


def test_killed_runs_lose_no_news(theft, tmp_path):
    """Kill runs at random moments (SIGKILL, Ctrl-C); the union of what the runs announce equals what
    one clean run announces."""
    rng = random.Random(int(os.environ.get("TRACER_TEST_SEED", "11")))
    with ExplorerServer(theft.chain, latency=0.01) as server:
        clean = subprocess.run(_trace_command(server, tmp_path / "clean.db", theft.seed_address),
                               cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert clean.returncode == 0, clean.stderr
        expected = _empty()
        _announced(json.loads(clean.stdout)["news"], expected)
        assert expected["exits"][(EXCH, "")] == 1 and expected["transfers"]

        db = tmp_path / "killed.db"
        union = _empty()
        outcomes = Counter()
        for attempt in range(5):
            proc = _trace_process(server, db, theft.seed_address)
            try:
                proc.wait(timeout=rng.uniform(0.5, 3.5))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL if attempt % 2 == 0 else signal.SIGINT)
            out, err = proc.communicate(timeout=120)
            outcomes[proc.returncode] += 1
            if out:  # what reached the analyst counts, even from a run interrupted after it printed
                _announced(json.loads(out)["news"], union)
        final = run_cli("trace", theft.seed_address, "--db", db, "--explorer-url", server.url, "--rate", "1000",
                        "--hops", "3", "--json", "--quiet", "--no-screen")
        assert final.exit_code == 0, final.output
        _announced(json.loads(final.stdout)["news"], union)
    assert outcomes[0] < 5, f"no run was interrupted ({outcomes}); the test proves nothing"
    assert union == expected
    # and everything is announced exactly once: a further run has nothing to say
    with ExplorerServer(theft.chain) as server:
        again = run_cli("trace", theft.seed_address, "--db", db, "--explorer-url", server.url, "--rate", "1000",
                        "--hops", "3", "--quiet", "--fail-on-new", "--no-screen")
    assert again.exit_code == 0 and again.stdout == ""


def test_news_of_a_run_whose_source_died_comes_with_the_next_run(theft, tmp_path):
    db = tmp_path / "case.db"
    with ExplorerServer(theft.chain) as server:
        server.faults.extend(["ok"] * 12 + ["500"] * 200)  # the explorer dies part-way
        died = run_cli("trace", theft.seed_address, "--db", db, "--explorer-url", server.url, "--rate", "1000",
                       "--hops", "3", "--retries", "0", "--quiet", "--no-screen")
        assert died.exit_code == 6 and died.stdout == ""
        conn = sqlite3.connect(db)
        stored = conn.execute("SELECT count(*) FROM transfers").fetchone()[0]
        conn.close()
        assert stored > 0  # it had stored part of the trail before it died
        server.faults.clear()
        rerun = run_cli("trace", theft.seed_address, "--db", db, "--explorer-url", server.url, "--rate", "1000",
                        "--hops", "3", "--json", "--quiet", "--fail-on-new", "--no-screen")
    assert rerun.exit_code == 3
    news = json.loads(rerun.stdout)["news"]
    assert news["covers_runs"] == [1, 2]  # the failed run's transfers are announced now
    assert any(e["address"] == EXCH for e in news["new_exits"])


def _full_tmpfs(path: Path, size_kb: int) -> None:
    path.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here to fill the disk ({exc}); needs root")


def test_a_full_disk_while_writing_graphml_keeps_the_old_file_and_the_news(theft, tmp_path):
    disk = tmp_path / "small"
    _full_tmpfs(disk, 64)
    try:
        graphml = disk / "case.graphml"
        graphml.write_text("yesterday's graph")
        filler = disk / "filler"
        with open(filler, "wb", buffering=0) as fh:  # fill the disk to the last block
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError:
                pass
        db = tmp_path / "case.db"
        with ExplorerServer(theft.chain) as server:
            result = run_cli("trace", theft.seed_address, "--db", db, "--explorer-url", server.url, "--rate",
                             "1000", "--hops", "3", "--quiet", "--graphml", graphml, "--no-screen")
        assert result.exit_code == 7, result.output
        assert result.stderr.count("\n") == 1 and "cannot write" in result.stderr and "Traceback" not in result.stderr
        assert graphml.read_text() == "yesterday's graph"
        assert sorted(p.name for p in disk.iterdir()) == ["case.graphml", "filler"]  # no temporary left over
        assert "new exit: exchange " + EXCH in result.stdout  # the news went out before the graph failed
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_export_and_report_replace_their_file_or_leave_it(theft, tmp_path):
    db = tmp_path / "case.db"
    with ExplorerServer(theft.chain) as server:
        run_cli("trace", theft.seed_address, "--db", db, "--explorer-url", server.url, "--rate", "1000", "--quiet")
    for args, name in ((["export", "--format", "csv"], "g.csv"), (["export", "--format", "graphml"], "g.graphml"),
                       (["report", "--format", "md"], "r.md")):
        out = tmp_path / name
        ok = run_cli(*args, "--db", db, "--out", out)
        assert ok.exit_code == 0, ok.output
        assert out.stat().st_size > 0
        leftovers = [p.name for p in tmp_path.iterdir() if ".tracer-" in p.name]
        assert leftovers == []
    assert (tmp_path / "g.nodes.csv").exists()


def test_outputs_follow_symlinks_keep_permissions_and_never_replace_a_pipe(tmp_path):
    """write_atomically replaces regular files only: a symlink's target is replaced (the link stays), a
    private file stays private, and a named pipe (like /dev/stdout or a device) is written into."""
    import stat
    import threading

    from tracer.outputs import write_atomically

    def write(text):
        return lambda p: p.write_text(text)

    target = tmp_path / "real.graphml"
    target.write_text("old")
    os.chmod(target, 0o600)
    link = tmp_path / "link.graphml"
    link.symlink_to(target)
    write_atomically(link, write("new"))
    assert link.is_symlink() and target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(pipe).read()))
    reader.start()
    write_atomically(pipe, write("through the pipe"))
    reader.join(timeout=10)
    assert got == ["through the pipe"] and stat.S_ISFIFO(pipe.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.graphml", "pipe", "real.graphml"]


def test_the_report_tells_what_a_killed_run_stored(theft, tmp_path):
    """The report's "what is new" covers runs whose news was never announced, as the next trace will."""
    db = tmp_path / "case.db"
    with ExplorerServer(theft.chain) as server:
        server.faults.extend(["ok"] * 12 + ["500"] * 200)  # the explorer dies part-way: nothing announced
        died = run_cli("trace", theft.seed_address, "--db", db, "--explorer-url", server.url, "--rate", "1000",
                       "--hops", "3", "--retries", "0", "--quiet", "--no-screen")
    assert died.exit_code == 6
    out = tmp_path / "r.md"
    assert run_cli("report", "--db", db, "--out", out, "--format", "md").exit_code == 0
    text = out.read_text()
    assert "No run yet" not in text and "Run 1" in text and "new transfers" in text
