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
    result = run_cli("trace", "0x47666Fab8bd0Ac7003bce3f5C3585383F09486E2", "--db", tmp_path / "c.db",
                     "--min-value", value)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("tracer: error: --min-value") and result.stderr.count("\n") == 1


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
