"""The nightly message: per hop what is new with amounts, exits newly reached, dormant funds that moved."""

import sys
from pathlib import Path

import pytest

from explorer_server import ExplorerServer
from helpers import run_cli, trace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import ETHER, Params, generate, move  # noqa: E402

EXCH = "0xf1da173228fcf015f43f3ea15abbb51f0d8f1123"  # eXch hot wallet (data/labels.json)
BLOCKS_PER_DAY = 7200


@pytest.fixture()
def theft():
    return generate(Params(widths=(3, 3), peel_chains=1, peel_length=2, consolidations=1, consolidate_from=2,
                           transfers=300, dormant_ratio=0.5, blocks_per_layer=100))


def test_rerun_after_40_quiet_days_reports_dormant_funds_and_a_new_exit(theft, tmp_path):
    db = tmp_path / "case.db"
    with ExplorerServer(theft.chain) as server:
        first = trace(server, db, "--hops", "4", seed=theft.seed_address)
        assert first["news"]["run_id"] == first["run_id"] and first["news"]["previous_run_id"] is None

        quiet = trace(server, db, "--hops", "4", seed=theft.seed_address)
        assert quiet["news"]["hops"] == [] and quiet["news"]["dormant_moved"] == []

        theft.next_block += 40 * BLOCKS_PER_DAY  # forty days of silence, then two wallets move
        moved = move(theft, 0.15)
        wallet = theft.layers[0][0]
        theft.native(wallet, EXCH, 3 * ETHER, theft.next_block)
        theft.chain.head = theft.next_block + 5
        result = run_cli("trace", theft.seed_address, "--db", db, "--explorer-url", server.url, "--rate", "200",
                         "--hops", "4", "--quiet")
        night = trace(server, db, "--hops", "4", seed=theft.seed_address)  # nothing since: quiet again
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("dormant funds moved: " + wallet) and "idle 4" in line and "3 ETH" in line
               for line in lines), lines
    assert any(line.startswith(f"new exit: exchange {EXCH} (eXch") and "3 ETH" in line for line in lines), lines
    hop_lines = [line for line in lines if "new transfers" in line]
    assert hop_lines and all("moved" in line for line in hop_lines)
    assert night["news"]["hops"] == [] and moved >= 1


def test_news_amounts_are_exact_base_units(theft, tmp_path):
    db = tmp_path / "case.db"
    with ExplorerServer(theft.chain) as server:
        first = trace(server, db, "--hops", "4", seed=theft.seed_address)
        theft.next_block += 40 * BLOCKS_PER_DAY
        wallet = theft.layers[1][0]
        theft.native(wallet, "0x" + "ab" * 20, 10**18 + 1, theft.next_block)  # one ETH and one wei
        theft.chain.head = theft.next_block + 5
        night = trace(server, db, "--hops", "4", seed=theft.seed_address)
    dormant = {d["address"]: d for d in night["news"]["dormant_moved"]}
    assert dormant[wallet]["moved"] == [{"asset": "ETH", "token": "ETH", "amount": str(10**18 + 1),
                                        "display": "1.000000000000000001"}]
    assert dormant[wallet]["idle_days"] >= 40
    for run in (first, night):
        assert sum(h["new_transfers"] for h in run["news"]["hops"]) == run["new_transfers"]
        assert sum(h["new_addresses"] for h in run["news"]["hops"]) == run["new_addresses"] > 0


def test_an_attributed_address_that_moves_leads_the_nightly_news(theft, tmp_path):
    """A wallet someone published (here: a synced list) sends value: the first line of the night says so, with
    who attributed it; the first run, where every history is new, says nothing of the kind."""
    db = tmp_path / "case.db"
    wallet = theft.layers[0][0]
    feed = tmp_path / "published.json"
    feed.write_text('{"0221": {"eth": ["%s"]}}' % wallet)
    assert run_cli("seeds", "sync", "--source", feed, "--db", db).exit_code == 0
    with ExplorerServer(theft.chain) as server:
        first = trace(server, db, "--hops", "4", seed=theft.seed_address)
        assert first["news"]["attributed_moved"] == []
        theft.next_block += 10
        theft.native(wallet, "0x" + "cd" * 20, 2 * ETHER, theft.next_block)
        theft.chain.head = theft.next_block + 5
        result = run_cli("trace", theft.seed_address, "--db", db, "--explorer-url", server.url, "--rate", "200",
                         "--hops", "4", "--quiet")
    assert result.exit_code == 0, result.output
    first_line = result.stdout.splitlines()[0]
    assert first_line.startswith(f"attributed address moved: {wallet} ({feed}): 2 ETH (first tx 0x"), first_line
