"""Decisions follow the current labels, whatever the order: a label imported after a trace changes
what is followed, what `exits` says and what the next run announces, exactly as importing first."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from explorer_server import ExplorerServer
from helpers import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import ETHER, Params, generate  # noqa: E402


@pytest.fixture()
def theft():
    return generate(Params(widths=(3, 3), peel_chains=0, consolidations=1, consolidate_from=2, transfers=200,
                           dormant_ratio=0.5, blocks_per_layer=100))


def _labels_file(tmp_path: Path, address: str) -> Path:
    """etherscan-labels' combined file, as published: {address: {"name", "labels"}}."""
    path = tmp_path / "labels" / "combinedAccountLabels.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({address: {"name": "Binance 99", "labels": ["binance", "exchange"]}}))
    return path


def _trace(server, db, seed, *extra):
    result = run_cli("trace", seed, "--db", db, "--explorer-url", server.url, "--rate", "1000", "--hops", "3",
                     "--quiet", "--no-screen", *extra)
    assert result.exit_code == 0, result.output
    return result


def _exits(db) -> list[tuple]:
    rows = json.loads(run_cli("exits", "--db", db, "--json").stdout)
    return sorted((r["address"], r["kind"], r["category"], r["taint_wei"]) for r in rows)


def test_a_label_imported_after_the_trace_counts_as_if_imported_first(theft, tmp_path):
    wallet = theft.layers[0][1]  # a hop-1 wallet, followed by the first trace
    labels = _labels_file(tmp_path, wallet)
    after, first = tmp_path / "after.db", tmp_path / "first.db"
    with ExplorerServer(theft.chain) as server:
        _trace(server, after, theft.seed_address)
        before = {r[0]: r for r in _exits(after)}
        assert before[wallet][1] == "dormant holder" if wallet in before else True

        assert run_cli("labels", "import", labels, "--db", after).exit_code == 0
        now = {r[0]: r for r in _exits(after)}
        assert now[wallet][1:3] == ("exchange", "exchange")  # at once, before any new trace
        show = json.loads(run_cli("show", wallet, "--db", after, "--json").stdout)
        assert show["category"] == "exchange" and show["followed"] is False

        night = _trace(server, after, theft.seed_address)
        assert any(line.startswith(f"new exit: exchange {wallet} (Binance 99)") for line in night.stdout.splitlines()), \
            night.stdout
        quiet = _trace(server, after, theft.seed_address)
        assert quiet.stdout == ""  # announced once

        assert run_cli("labels", "import", labels, "--db", first).exit_code == 0
        fresh = _trace(server, first, theft.seed_address)
        assert f"new exit: exchange {wallet} (Binance 99)" in fresh.stdout
    assert _exits(after) == _exits(first)
    g_after = run_cli("export", "--db", after, "--format", "json", "--out", tmp_path / "a.json")
    g_first = run_cli("export", "--db", first, "--format", "json", "--out", tmp_path / "f.json")
    assert g_after.exit_code == g_first.exit_code == 0
    node = {n["id"]: n for n in json.loads((tmp_path / "a.json").read_text())["nodes"]}[wallet]
    assert node["category"] == "exchange" and node["followed"] is False


def test_labelled_contracts_are_contracts_without_a_request(theft, tmp_path):
    """Curated routers, pools, bridges, mixers and tokens hold code; the exporter says so unasked."""
    uniswap_router = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"
    exch = "0xf1da173228fcf015f43f3ea15abbb51f0d8f1123"  # a hot wallet: an account
    theft.native(theft.layers[0][0], uniswap_router, ETHER, theft.next_block)
    theft.native(theft.layers[0][0], exch, ETHER, theft.next_block + 1)
    theft.chain.head = theft.next_block + 5
    db = tmp_path / "case.db"
    with ExplorerServer(theft.chain) as server:
        _trace(server, db, theft.seed_address)
        asked = {q.get("address") for q in server.log if q.get("action") == "eth_getCode"}
    assert uniswap_router not in asked and exch not in asked
    assert run_cli("export", "--db", db, "--format", "json", "--out", tmp_path / "g.json").exit_code == 0
    nodes = {n["id"]: n for n in json.loads((tmp_path / "g.json").read_text())["nodes"]}
    assert nodes[uniswap_router]["is_contract"] is True and "code-unchecked" not in nodes[uniswap_router]["flags"]
    assert nodes[exch]["is_contract"] is False and "code-unchecked" not in nodes[exch]["flags"]
