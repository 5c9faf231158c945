"""`show` and `exits`: aligned tables on a terminal (a real pseudo-terminal), TSV when piped, JSON when asked."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from explorer_server import ExplorerServer
from helpers import trace

from tracer.tables import Table, render, resolve_format

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import Params, generate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_cells_stay_text_in_both_forms():
    hostile = Table("t", ["a", "b"], [["[bold red]x[/]", "=HYPERLINK(1)"], ["tab\there", "line\nbreak"]])
    out = io.StringIO()
    render([hostile], "table", out)
    assert "[bold red]x[/]" in out.getvalue()  # rich markup in a token name is not interpreted
    out = io.StringIO()
    render([hostile], "tsv", out)
    lines = out.getvalue().splitlines()
    assert lines == ["a\tb", "[bold red]x[/]\t'=HYPERLINK(1)", "tab\\x09here\tline\\x0abreak"]


def test_auto_is_a_table_only_on_a_terminal():
    assert resolve_format("auto", io.StringIO()) == "tsv"
    assert resolve_format("table", io.StringIO()) == "table"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    theft = generate(Params(widths=(3, 4), transfers=200))
    db = tmp_path_factory.mktemp("tables") / "case.db"
    with ExplorerServer(theft.chain) as server:
        trace(server, db, "--hops", "3", seed=theft.seed_address)
    return db, theft


def _run_in_pty(*args: str) -> str:
    """The CLI in a real pseudo-terminal, as an analyst runs it."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", *args], stdin=follower,
                            stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, b"".join(chunks)
    return b"".join(chunks).decode("utf-8", "replace")


def test_exits_and_show_on_a_terminal_and_in_a_pipe(store):
    db, theft = store
    on_tty = _run_in_pty("exits", "--db", str(db))
    assert "\t" not in on_tty and "───" in on_tty and "traced_eth" in on_tty
    piped = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "exits", "--db", str(db)],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    lines = piped.stdout.splitlines()
    assert lines[0] == "rank\ttraced_eth\ttraced_btc\tkind\taddress\tlabel\thop\tdestinations"
    assert all(len(line.split("\t")) == 8 for line in lines) and "───" not in piped.stdout and "\x1b" not in piped.stdout
    as_json = json.loads(subprocess.run(
        [sys.executable, "-c", "import cli; cli.main()", "exits", "--db", str(db), "--format", "json"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout)
    assert [r["rank"] for r in as_json] == list(range(1, len(lines)))  # the same rows, every one

    wallet = theft.layers[0][0]
    shown = _run_in_pty("show", wallet, "--db", str(db))
    assert "counterparties" in shown and "───" in shown and "\t" not in shown
