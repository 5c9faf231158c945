"""A token that names itself with escape sequences, controls, formulas and broken UTF-8."""

import csv
import json

import networkx as nx

from conftest import EXPLOITER, HOP1_CONSOLIDATION
from explorer_server import ExplorerServer
from helpers import run_cli, trace

NASTY = "\x1b[2J\x1b]0;pwned\x07=HYPERLINK(\"http://evil\")" + "".join(chr(c) for c in range(32)) + "<RAW-FF>ЕTH"


def test_every_output_is_safe(fixture_chain, db_path, tmp_path):
    # a token that calls itself all of that, "sent" by the exploiter
    fixture_chain.records["tokentx"].append({
        "blockNumber": "21895600", "timeStamp": "1740150000", "hash": "0x" + "d1" * 32, "from": EXPLOITER,
        "to": HOP1_CONSOLIDATION, "value": str(10**18), "contractAddress": "0x" + "e7" * 20,
        "tokenSymbol": NASTY, "tokenName": NASTY, "tokenDecimal": "18"})
    with ExplorerServer(fixture_chain) as server:
        trace(server, db_path, "--hops", "2", "--follow-unverified-tokens")
    outputs = {}
    for fmt in ("graphml", "gexf", "csv", "json"):
        out = tmp_path / f"g.{fmt}"
        assert run_cli("export", "--db", db_path, "--format", fmt, "--out", out).exit_code == 0
        outputs[fmt] = out
    nx.read_graphml(outputs["graphml"])  # parses, whatever the token calls itself
    nx.read_gexf(outputs["gexf"])
    graphml_text = outputs["graphml"].read_text(encoding="utf-8")
    assert "\x1b" not in graphml_text and "\x07" not in graphml_text
    with open(outputs["csv"], newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            for cell in row:
                assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
    json.loads(outputs["json"].read_text(encoding="utf-8"))
    for args in (["show", HOP1_CONSOLIDATION], ["show", HOP1_CONSOLIDATION, "--format", "table"], ["exits"],
                 ["exits", "--csv"], ["exits", "--format", "table"]):
        result = run_cli(*args, "--db", db_path)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\x00" not in result.stdout
    shown = run_cli("show", HOP1_CONSOLIDATION, "--db", db_path).stdout
    assert "poison_transfers\t0" not in shown  # it imitates ETH: counterfeit, never in the totals
    assert NASTY not in shown
