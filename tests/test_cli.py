"""The command line as an analyst meets it: CliRunner for breadth, one real subprocess."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_cli, store_snapshot, trace

ROOT = Path(__file__).resolve().parents[1]
SEED = "0x47666Fab8bd0Ac7003bce3f5C3585383F09486E2"


def one_line_error(result, code=None):
    assert result.exit_code != 0
    if code is not None:
        assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracer: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_seeds_lists_the_fbi_addresses_with_sources():
    result = run_cli("seeds", "--case", "bybit-2025-02", "--json")
    assert result.exit_code == 0
    seeds = json.loads(result.stdout)
    fbi = [s for s in seeds if any(src["url"] == "https://www.ic3.gov/PSA/2025/PSA250226" for src in s["sources"])]
    assert len(fbi) == 51 and all(s["role"] == "laundering" and "FBI" in s["attribution"] for s in fbi)
    # the FBI is never named where it did not attribute an address (the audit's W3, data-audit.md)
    assert all("per FBI" not in s["attribution"] for s in seeds if s not in fbi)
    # the 10,000 ETH tranche wallet Verichains and tayvano list, and the FBI does not (M1)
    tranche = next(s for s in seeds if s["address"] == "0x36ed3C0213565530C35115d93A80F9c04d94E4Cb")
    assert tranche["role"] == "laundering" and "Verichains" in tranche["attribution"]
    roles = {s["address"]: s["role"] for s in seeds}
    assert roles[SEED] == "theft"
    assert roles["0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4"] == "victim"
    assert roles["0xbDd077f651EBe7f7b3cE16fe5F2b025BE2969516"] == "exploit-tooling"
    everything = json.loads(run_cli("seeds", "--json").stdout)
    assert any(s["case"] == "ronin-2022-03" for s in everything)
    assert "0x098B716B8Aaf21512996dC57EB0615e2383E2f96" in run_cli("seeds", "--list").stdout
    assert "ronin-2022-03\tbundled\teth\t1" in run_cli("seeds").stdout  # counts by default


def test_seed_file_addresses_are_checksummed_and_unique():
    from eth_utils import is_checksum_address

    from tracer.seeds import all_seeds
    seeds = all_seeds()
    assert all(is_checksum_address(s.address) for s in seeds)
    assert len({s.key for s in seeds}) == len(seeds)
    assert all(s.sources for s in seeds)


def test_unknown_case_is_one_line():
    line = one_line_error(run_cli("seeds", "--case", "nope"), 2)
    assert "unknown case 'nope'" in line and "bybit-2025-02" in line
    one_line_error(run_cli("trace", "--case", "nope", "--db", "x.db"), 2)


@pytest.mark.parametrize("args,text", [
    (["trace", SEED[:-2] + "e2"], "EIP-55 checksum"),
    (["trace", "0x1234"], "invalid address"),
    (["trace"], "at least one address"),
    (["trace", SEED, "--bogus"], "No such option"),
    (["trace", SEED, "--hops", "many"], "--hops"),
    (["trace", SEED, "--min-value", "lots"], "--min-value"),
    (["trace", SEED, "--explorer-url", "ftp://x"], "explorer URL"),
    (["show", "0xnothex"], "invalid address"),
    (["export", "--format", "pdf", "--out", "x"], "--format"),
    (["frobnicate"], "No such command"),
])
def test_bad_input_is_one_line_and_non_zero(args, text, tmp_path):
    result = run_cli(*args, "--db", str(tmp_path / "c.db")) if args[0] in ("trace", "show") else run_cli(*args)
    assert text in one_line_error(result)
    assert not (tmp_path / "c.db").exists() or args[0] == "trace"


def test_missing_db_directory(tmp_path):
    line = one_line_error(run_cli("trace", SEED, "--db", tmp_path / "no" / "case.db", "--explorer-url",
                                  "http://127.0.0.1:9/api"), 4)
    assert "does not exist" in line


@pytest.mark.parametrize("content", [b"not a database at all", b"SQLite format 3\x00" + b"\x00" * 200])
def test_corrupt_or_foreign_store_is_refused_untouched(tmp_path, content):
    db = tmp_path / "case.db"
    db.write_bytes(content)
    for args in (["trace", SEED], ["export", "--out", tmp_path / "o.graphml"], ["show", SEED]):
        one_line_error(run_cli(*args, "--db", db, "--explorer-url", "http://127.0.0.1:9/api"))
    assert db.read_bytes() == content


def test_export_and_show_need_an_existing_store(tmp_path):
    assert "no store" in one_line_error(run_cli("export", "--db", tmp_path / "none.db", "--out", tmp_path / "o.xml"))
    assert "no store" in one_line_error(run_cli("show", SEED, "--db", tmp_path / "none.db"))
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize("fault,text,code", [
    ("html", "is not JSON", 6),
    ("truncated", "is not JSON", 6),
    ("500", "HTTP 500", 6),
    ("invalid-key", "Invalid API Key", 6),
    ("unknown-status0", "Something odd happened", 6),
    ("dict-result", "expected a", 6),
])
def test_failing_explorer_keeps_the_store_intact(explorer, db_path, fault, text, code):
    trace(explorer, db_path, "--hops", "1")
    before = store_snapshot(db_path)
    explorer.chain.visible_to = None
    explorer.faults.extend(["ok"] * 4 + [fault] * 400)  # fail mid-run, after the seed's refetch
    result = run_cli("trace", SEED, "--db", db_path, "--explorer-url", explorer.url, "--rate", "500",
                     "--retries", "1", "--quiet", "--hops", "2")
    assert text in one_line_error(result, code)
    explorer.faults.clear()
    # Nothing stored is lost or changed. An address whose fetch completed before the failure may have been
    # committed meanwhile (a trace commits every half second: a slow machine gets there first): then it is
    # followed, and every transfer it added is one of its own.
    after = store_snapshot(db_path)
    assert set(before["transfers"]) <= set(after["transfers"])
    now = {r[0]: r for r in after["addresses"]}
    completed = set()
    for row in before["addresses"]:
        address, _, _, hop, reach, followed, category = row
        assert now[address][3:5] == (hop, reach) and now[address][6] == category
        if now[address] != row:
            assert now[address][5] == 1 and not followed
            completed.add(address)
    for t in set(after["transfers"]) - set(before["transfers"]):
        assert {t[6], t[7]} & completed, t
    conn = sqlite3.connect(db_path)
    assert [s for (s,) in conn.execute("SELECT status FROM runs ORDER BY id")] == ["ok", "failed"]
    conn.close()


def test_rate_limit_bodies_slow_the_run_down_but_never_reach_the_user(explorer, db_path):
    explorer.faults.extend(["ratelimit", "429", "ratelimit"])
    summary = trace(explorer, db_path, "--hops", "1")
    assert summary["rate_limited"] == 3 and summary["followed_addresses"] == 1


def test_api_key_never_reaches_output_or_store(explorer, db_path, monkeypatch):
    key = "SUPERSECRETKEY123"
    env = {"ETHERSCAN_API_KEY": key}
    ok = run_cli("trace", SEED, "--db", db_path, "--explorer-url", explorer.url, "--rate", "200", "--json",
                 "--hops", "1", env=env)
    explorer.faults.extend(["ok", "invalid-key"])  # after the keyless dialect check
    bad = run_cli("trace", SEED, "--db", db_path, "--explorer-url", explorer.url, "--rate", "200", env=env)
    assert ok.exit_code == 0 and bad.exit_code != 0
    assert "apikey" not in explorer.log[0]  # not on the dialect check of an unknown host (it may be Blockscout)...
    assert explorer.log[1]["apikey"] == key  # ...then used...
    reports = []
    for fmt in ("html", "md"):  # ...nor in the reports made from the store
        out = db_path.with_name(f"report.{fmt}")
        assert run_cli("report", "--db", db_path, "--out", out, "--format", fmt, env=env).exit_code == 0
        reports.append(out.read_text(encoding="utf-8"))
    for text in (ok.output, bad.output, *reports):
        assert key not in text
    assert key.encode() not in db_path.read_bytes()  # ...and never stored


def test_quiet_when_not_a_tty(explorer, db_path):
    result = run_cli("trace", SEED, "--db", db_path, "--explorer-url", explorer.url, "--rate", "200", "--hops", "1")
    assert result.exit_code == 0 and result.stderr == ""
    assert "hop 0:" in result.stdout and "hop 1:" in result.stdout and "requests" in result.stdout


def test_progress_only_on_a_terminal(monkeypatch):
    from tracer import progress
    assert isinstance(progress.make_progress(quiet=True), progress.NullProgress)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert isinstance(progress.make_progress(quiet=False), progress.NullProgress)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = progress.make_progress(quiet=False)
    assert isinstance(bar, progress.RichProgress)
    bar.start_stage("hop 0", 2)
    bar.advance()
    bar.set_requests(3)
    bar.finish()


def test_real_subprocess_trace_and_export(explorer, tmp_path):
    """The installed console script, as cron would run it."""
    tracer_bin = Path(sys.executable).with_name("tracer")
    cmd = [str(tracer_bin)] if tracer_bin.exists() else [sys.executable, "-c", "import cli; cli.main()"]
    db, graphml = tmp_path / "case.db", tmp_path / "trail.graphml"
    env = {**os.environ, "TRACER_DB": str(db), "TRACER_EXPLORER_URL": explorer.url, "PYTHONPATH": str(ROOT)}
    env.pop("ETHERSCAN_API_KEY", None)
    run = subprocess.run([*cmd, "trace", SEED, "--rate", "200", "--json", "--graphml", str(graphml)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["followed_addresses"] == 44
    assert run.stderr == ""
    bad = subprocess.run([*cmd, "trace", "0xdeadbeef"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    import networkx as nx
    assert nx.read_graphml(graphml).number_of_nodes() > 40


def test_fail_on_new_exits_3_only_when_something_is_new(explorer, db_path):
    args = ["trace", SEED, "--db", db_path, "--explorer-url", explorer.url, "--rate", "200", "--hops", "1",
            "--quiet", "--fail-on-new"]
    first = run_cli(*args)
    assert first.exit_code == 3 and "new:" in first.stdout  # everything is new the first time
    again = run_cli(*args)
    assert again.exit_code == 0 and again.stdout == "" and again.stderr == ""  # cron mails nothing
    verbose = run_cli(*args, "--verbose")
    assert verbose.exit_code == 0 and "new: 0 transfers, 0 addresses" in verbose.stdout
    assert "hop 0: 1 addresses (1 followed)" in verbose.stdout
    assert run_cli(*args, "--json").exit_code == 0


def test_unexpected_errors_are_redacted(monkeypatch):
    import cli as cli_module

    monkeypatch.setenv("ETHERSCAN_API_KEY", "KEY123SECRET")
    text = ("boom at https://user:pw@node.example/v3/abcdef?apikey=KEY123SECRET and "
            "https://api.etherscan.io/v2/api?apikey=KEY123SECRET")
    cleaned = cli_module.redact(text)
    assert "KEY123SECRET" not in cleaned and "pw@" not in cleaned and "abcdef" not in cleaned
    assert "node.example" in cleaned and "api.etherscan.io" in cleaned
