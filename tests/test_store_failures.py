"""What a store meets on a real machine: a full disk, a read-only file, a damaged file, a foreign
schema version, text that is not valid Unicode. Each is one line and its exit code, never an
internal error, and never a worse store than before."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from explorer_server import ExplorerServer
from helpers import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import ETHER, Params, generate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def theft():
    return generate(Params(widths=(3, 3), peel_chains=1, peel_length=2, consolidations=1, consolidate_from=2,
                           transfers=400, dormant_ratio=0.5, blocks_per_layer=100))


def _trace(server, db, seed, *extra):
    return run_cli("trace", seed, "--db", db, "--explorer-url", server.url, "--rate", "1000", "--hops", "3",
                   "--quiet", "--no-screen", *extra)


def _one_line_error(result, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.stderr.startswith("tracer: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    return result.stderr


@pytest.fixture()
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(disk)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here to fill the disk ({exc}); needs root")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


def test_disk_full_during_a_trace_is_one_line_and_keeps_what_was_committed(theft, small_disk):
    db = small_disk / "case.db"
    for i in range(30):  # enough history to outgrow the disk
        theft.native(theft.layers[0][i % 3], "0x" + f"{i:02x}" * 20, ETHER, theft.next_block + i)
    theft.chain.head = theft.next_block + 100
    big = generate(Params(widths=(6, 6), transfers=3000, blocks_per_layer=100, seed=9))
    with ExplorerServer(big.chain) as server:
        result = _trace(server, db, big.seed_address)
    error = _one_line_error(result, 4)
    assert "disk is full" in error
    if db.exists():  # whatever was committed is a sound store
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()


def test_a_new_store_on_a_full_disk_leaves_no_file(small_disk):
    with open(small_disk / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    result = run_cli("labels", "import", ROOT / "tests" / "data" / "labels", "--db", small_disk / "new.db")
    error = _one_line_error(result, 4)
    assert "cannot create it" in error and "disk is full" in error and "schema" not in error
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def _as_nobody(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                           "import cli; cli.main()", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_read_only_store_is_read_but_never_written(theft, tmp_path):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the command as a user that may not write the store")
    folder = Path(tempfile.mkdtemp(prefix="tracer-ro-"))  # pytest's own tmp folders are closed to others
    db = folder / "case.db"
    with ExplorerServer(theft.chain) as server:
        assert _trace(server, db, theft.seed_address).exit_code == 0
        os.chmod(db, 0o444)
        os.chmod(folder, 0o755)
        before = db.read_bytes()
        exits = _as_nobody("exits", "--db", db, "--json")
        assert exits.returncode == 0 and json.loads(exits.stdout), exits.stderr
        traced = _as_nobody("trace", theft.seed_address, "--db", db, "--explorer-url", server.url, "--quiet")
        imported = _as_nobody("labels", "import", ROOT / "tests" / "data" / "labels", "--db", db)
    try:
        for result in (traced, imported):
            assert result.returncode == 4 and result.stderr.count("\n") == 1, result.stderr
            assert "read-only" in result.stderr and "internal error" not in result.stderr
        assert db.read_bytes() == before
    finally:
        shutil.rmtree(folder)


def test_a_store_damaged_mid_file_is_refused_not_traced_into(theft, tmp_path):
    db = tmp_path / "case.db"
    with ExplorerServer(theft.chain) as server:
        assert _trace(server, db, theft.seed_address).exit_code == 0
        size = db.stat().st_size
        with open(db, "r+b") as fh:  # scribble over pages in the middle of the file
            fh.seek(size // 2)
            fh.write(os.urandom(8192))
        damaged = db.read_bytes()
        result = _trace(server, db, theft.seed_address)
    assert "damaged" in _one_line_error(result, 4)
    assert db.read_bytes() == damaged  # not made worse
    for args in (["exits"], ["export", "--out", tmp_path / "g.graphml"], ["show", theft.seed_address],
                 ["report", "--out", tmp_path / "r.md", "--format", "md"]):
        assert "damaged" in _one_line_error(run_cli(*args, "--db", db), 4)  # readers say so too
    assert db.read_bytes() == damaged


def test_a_non_numeric_schema_version_is_refused(tmp_path):
    db = tmp_path / "case.db"
    assert run_cli("labels", "import", ROOT / "tests" / "data" / "labels", "--db", db).exit_code == 0
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value='seven' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    for args in (["exits"], ["labels", "import", ROOT / "tests" / "data" / "labels"]):
        assert "schema version" in _one_line_error(run_cli(*args, "--db", db), 4)
    assert db.read_bytes() == before


def test_text_that_is_not_valid_unicode_is_stored_not_fatal(theft, tmp_path):
    """Anyone can airdrop a token whose symbol holds a lone surrogate to a traced address."""
    wallet = theft.layers[0][0]
    theft.token(wallet, theft.layers[0][1], 5, theft.next_block, contract="0x" + "5e" * 20, symbol="US\ud800DT")
    theft.chain.head = theft.next_block + 5
    db = tmp_path / "case.db"
    with ExplorerServer(theft.chain) as server:
        result = _trace(server, db, theft.seed_address)
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(db)
    assets = {r[0] for r in conn.execute("SELECT asset FROM transfers WHERE token=?", ("0x" + "5e" * 20,))}
    conn.close()
    assert assets == {"US\ufffdDT"}

    labels = tmp_path / "labels" / "combinedAccountLabels.json"
    labels.parent.mkdir()
    labels.write_text('{"%s": {"name": "Hot \\ud800 wallet", "labels": ["binance"]}}' % wallet)
    imported = run_cli("labels", "import", labels, "--db", db)
    assert imported.exit_code == 0, imported.output
    shown = json.loads(run_cli("show", wallet, "--db", db, "--json").stdout)
    assert shown["label"] == "Hot \ufffd wallet"


def test_a_failed_label_import_leaves_no_store_behind(tmp_path):
    db = tmp_path / "new.db"
    odd = tmp_path / "my-labels.json"
    odd.write_text("{}")
    result = run_cli("labels", "import", odd, "--db", db)
    error = _one_line_error(result, 2)
    assert "sanctioned_addresses_" in error and ".accounts.json" in error  # says which names it reads
    broken = tmp_path / "sanctioned_addresses_ETH.json"
    broken.write_text("[not json")
    _one_line_error(run_cli("labels", "import", broken, "--db", db), 2)
    assert not db.exists()
