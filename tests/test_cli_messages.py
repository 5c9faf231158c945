"""What a newcomer types first, and the messages they get back."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from explorer_server import ExplorerServer
from helpers import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import ETHER, Params, generate  # noqa: E402


@pytest.mark.parametrize("args", [[], ["labels"]])
def test_a_bare_group_prints_its_help(args):
    result = run_cli(*args)
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ") and "Commands:" in result.stdout
    assert "\\x0a" not in result.stdout and result.stdout.count("\n") > 5 and result.stderr == ""


def test_an_error_never_echoes_a_huge_argument(tmp_path):
    result = run_cli("trace", "0x" + "a" * 100_000, "--db", tmp_path / "c.db")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert len(result.stderr) < 600 and "characters cut" in result.stderr
    assert not (tmp_path / "c.db").exists()


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-1", "1e400000", "abc"])
def test_min_value_that_is_not_an_amount(value, tmp_path):
    db = tmp_path / "c.db"
    assert run_cli("labels", "import", Path(__file__).parent / "data" / "labels", "--db", db).exit_code == 0
    before = db.read_bytes()
    result = run_cli("trace", "0x47666Fab8bd0Ac7003bce3f5C3585383F09486E2", "--db", db, "--min-value", value)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("tracer: error: --min-value") and result.stderr.count("\n") == 1
    assert db.read_bytes() == before


def test_followed_unverified_tokens_are_not_called_ignored(tmp_path):
    theft = generate(Params(widths=(2,), peel_chains=0, consolidations=0, transfers=20, blocks_per_layer=50))
    odd = "0x" + "7d" * 20  # a token the registry does not know
    theft.token(theft.seed_address, theft.layers[0][0], 5 * ETHER, theft.next_block, contract=odd, symbol="ODD")
    theft.chain.head = theft.next_block + 5
    with ExplorerServer(theft.chain) as server:
        args = ["trace", theft.seed_address, "--explorer-url", server.url, "--rate", "1000", "--quiet", "--hops", "2"]
        plain = run_cli(*args, "--db", tmp_path / "a.db")
        following = run_cli(*args, "--db", tmp_path / "b.db", "--follow-unverified-tokens")
    assert plain.exit_code == following.exit_code == 0
    hop0 = [line for line in plain.stdout.splitlines() if line.startswith("hop 0:")][0]
    assert "poisoning, ignored" in hop0 and "unverified tokens, followed" not in hop0
    hop0 = [line for line in following.stdout.splitlines() if line.startswith("hop 0:")][0]
    assert "unverified tokens, followed" in hop0


def test_an_empty_store_or_output_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("exits", env={"TRACER_DB": ""})
    assert result.exit_code == 2 and "empty" in result.stderr and not (tmp_path / "tracer.db").exists()
    assert run_cli("exits", "--db", "").exit_code == 2
    for args in (["export", "--out", ""], ["report", "--out", ""], ["export", "--out", str(tmp_path)]):
        bad = run_cli(*args, "--db", tmp_path / "c.db")
        assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "internal error" not in bad.stderr, args


@pytest.mark.parametrize("name,content", [
    ("sanctioned_addresses_ETH.txt", b"\xff\xfe not utf-8"),
    ("combinedAllLabels.json", b'{"0x098b716b8aaf21512996dc57eb0615e2383e2f96": {"name": "x", "labels": 5}}'),
    ("sanctioned_addresses_ETH.json", b"[" * 100_000 + b"]" * 100_000),
    ("labels.csv", b"address,name\n0x098b716b8aaf21512996dc57eb0615e2383e2f96,\"" + b"a" * 200_000 + b"\"\n"),
])
def test_a_label_file_of_the_wrong_shape_is_one_line(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    result = run_cli("labels", "import", path, "--db", tmp_path / "c.db")
    assert result.exit_code == 2 and result.stderr.startswith("tracer: error: ") and result.stderr.count("\n") == 1
    assert "internal error" not in result.stderr and not (tmp_path / "c.db").exists()


def test_tsv_keeps_our_own_negative_numbers_as_numbers():
    import io

    from tracer.tables import Table, render

    out = io.StringIO()
    render([Table("t", ["hop", "label"], [[-1, "-1 looks like a formula"]])], "tsv", out)
    assert out.getvalue().splitlines()[1] == "-1\t'-1 looks like a formula"
