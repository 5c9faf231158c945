"""Issue 11, D15: untrusted text cannot forge lines, fill the screen, hide columns or pose as another symbol.

On a terminal a label cannot print a line of its own ("new exit: …"), a 10 KB label is cut to a few
lines, and `exits` at 80 columns still shows kind and label. In files (GraphML, GEXF, CSV, JSON,
TSV) control and bidi characters are written as visible \\xNN / \\uXXXX text (safe_text.for_file):
the XML stays valid whatever a token calls itself, a CR is not read back as LF, and
"US\\u202eDT" never reaches a viewer raw.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from conftest import EXPLOITER, HOP1_CONSOLIDATION
from explorer_server import Chain, ExplorerServer
from helpers import run_cli, trace

from tracer.graph import export
from tracer.graphml import write_graphml
from tracer.news import AssetAmount, ExitNews, News, news_lines
from tracer.safe_text import for_file, for_terminal
from tracer.tables import Lines, Table, render

UNLABELLED_EXIT = "0x" + "e8" * 20  # paid by the exploiter in the template below; named by no curated or seed list
TOKEN = "0x" + "e7" * 20
RTL = "US\u202eDT"  # shown by a bidi-aware viewer as "USTD" mirrored: another symbol
FORGED = "Binance 14\nnew exit: exchange 0x000000000000000000000000000000000000dead (fake)"
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
HOSTILE = "a\x00b\x1b[2Jc\rd\ne\u202ef\ud800g\ufffeh\u2028i"  # NUL, ESC, CR, LF, RLO, lone surrogate, U+FFFE, LS


# ---- a traced store to label ---------------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The fixture trace, plus a token whose symbol carries CR, LF and a right-to-left override."""
    chain = Chain.from_fixtures()
    chain.records["tokentx"].append({
        "blockNumber": "21895600", "timeStamp": "1740150000", "hash": "0x" + "d2" * 32, "from": EXPLOITER,
        "to": HOP1_CONSOLIDATION, "value": str(10**18), "contractAddress": TOKEN,
        "tokenSymbol": RTL + "\r\nnew exit:", "tokenName": RTL, "tokenDecimal": "18"})
    paid = next(r for r in chain.records["txlist"] if r["from"].lower() == EXPLOITER and int(r["value"]) > 0)
    chain.records["txlist"].append({**paid, "hash": "0x" + "d3" * 32, "blockNumber": "21895601",
                                    "timeStamp": "1740150012", "to": UNLABELLED_EXIT, "value": str(10**18)})
    db = tmp_path_factory.mktemp("display") / "template.db"
    with ExplorerServer(chain) as server:
        trace(server, db, "--hops", "2", "--follow-unverified-tokens")
    return db


def labelled(template, tmp_path, label: str):
    """A copy of the traced store where an imported dataset names UNLABELLED_EXIT `label`."""
    db = tmp_path / "case.db"
    src, dst = sqlite3.connect(template), sqlite3.connect(db)
    src.backup(dst)
    src.close()
    dst.close()
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "combined.json").write_text(json.dumps({UNLABELLED_EXIT: {"name": label, "labels": ["binance"]}}))
    assert run_cli("labels", "import", folder, "--db", db).exit_code == 0
    return db


def cli_out(*args, columns: int = 200) -> str:
    result = run_cli(*args, env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


def strings(value):
    """Every string in a parsed JSON document, as a reader of it gets them."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def forged_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip().startswith("new exit:")]


# ---- terminal: a cell never breaks a line of its own -------------------------------------------
def test_no_line_breaking_character_reaches_the_terminal():
    for ch in LINE_BREAKS:
        shown = for_terminal(f"Binance{ch}new exit: fake")
        assert len(shown.splitlines()) == 1 and ch not in shown, repr(ch)


def test_a_table_cell_cannot_start_a_line_but_our_lines_can():
    table = Table("t", ["field", "value"], [["label", FORGED], ["parts", Lines(["first", FORGED, "", None, "last"])]])
    out = io.StringIO()
    render([table], "table", out, width=200)
    text = out.getvalue()
    assert not forged_lines(text) and "Binance 14\\x0anew exit:" in text
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if "first" in line)
    assert lines[first].split() == ["parts", "first"] and "\\x0anew exit:" in lines[first + 1]
    assert lines[first + 2].split() == ["last"]  # a Lines cell: one line per part, empty parts left out
    out = io.StringIO()
    render([table], "tsv", out)
    assert out.getvalue().splitlines()[1:] == ["label\tBinance 14\\x0anew exit: exchange "
                                               "0x000000000000000000000000000000000000dead (fake)",
                                               "parts\tfirst; Binance 14\\x0anew exit: exchange "
                                               "0x000000000000000000000000000000000000dead (fake); last"]


def test_news_prints_one_line_per_exit_whatever_the_label():
    for ch in LINE_BREAKS:
        news = News(run_id=2, previous_run_id=1, new_exits=[ExitNews(
            UNLABELLED_EXIT, f"Binance{ch}new exit: exchange 0xdead", "x", "exchange", "0x" + "ab" * 32,
            [AssetAmount("ETH", "ETH", "1", "1")])])
        printed = "\n".join(news_lines(news, for_terminal))
        assert len(forged_lines(printed)) == 1, repr(ch)


def test_a_newline_in_a_label_prints_no_line_of_its_own(template, tmp_path):
    db = labelled(template, tmp_path, FORGED)
    for args in (["exits", "--format", "table"], ["show", UNLABELLED_EXIT, "--format", "table"], ["exits"],
                 ["show", UNLABELLED_EXIT]):
        out = cli_out(*args, "--db", db)
        assert not forged_lines(out), args
        assert "Binance 14\\x0anew exit:" in out, args


# ---- terminal: a long label is cut to a few lines --------------------------------------------
def test_a_10kb_label_is_a_few_lines_on_a_terminal_and_whole_elsewhere(template, tmp_path):
    db = labelled(template, tmp_path, "Binance " + "A" * 10_000)
    for args in (["exits", "--format", "table"], ["show", UNLABELLED_EXIT, "--format", "table"]):
        out = cli_out(*args, "--db", db, columns=80)
        assert 1 <= sum("AAAA" in line for line in out.splitlines()) <= 3, args
        assert "…(9908 more chars)" in " ".join(out.split()), args
    assert "A" * 10_000 in cli_out("exits", "--db", db)  # TSV: the whole text
    rows = json.loads(cli_out("exits", "--db", db, "--json"))
    assert next(r for r in rows if r["address"] == UNLABELLED_EXIT)["label"] == "Binance " + "A" * 10_000


def test_a_long_mixed_script_label_keeps_its_mark_when_cut():
    shown = for_terminal("Вinance " + "A" * 500, limit=100)
    assert shown.endswith("…(408 more chars) ⚠mixed-script") and len(shown) < 140


# ---- terminal: exits at 80 columns ---------------------------------------------------------
def test_exits_at_80_columns_shows_kind_and_label(template, tmp_path):
    db = labelled(template, tmp_path, "Binance 14 hot wallet")
    out = cli_out("exits", "--format", "table", "--db", db, columns=80)
    assert max(len(line) for line in out.splitlines()) <= 80
    rows = json.loads(cli_out("exits", "--json", "--db", db))[:50]
    lines = [line.strip() for line in out.splitlines()]
    for r in rows:
        assert f"{r['kind']} (hop {r['hop']})" in lines, r
        if r["label"]:
            assert r["label"] in lines, r
        assert any(line.endswith(r["address"]) for line in lines), r["address"]  # whole: copyable
    assert "Binance 14 hot wallet" in lines and "exchange (hop 1)" in lines


# ---- files: GraphML, GEXF, CSV, JSON -------------------------------------------------------
def hostile_graph() -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    g.add_node("0xaa", label=HOSTILE, category="dex", hop=1, flags="", taint_wei="1")
    g.add_node("btc:" + RTL, label=RTL, category="destination", hop=-1, flags="", taint_wei="0")
    g.add_edge("0xaa", "btc:" + RTL, key="0x01:bridge:0", tx_hash="0x01", log_index=0, block=1, timestamp=1,
               kind="bridge", asset=HOSTILE, token="ETH", amount="1", value=1.0, flags="", taint_wei="0",
               memo="=:b:" + RTL + "\r", confidence=1.0)
    return g


def test_graphml_cr_is_not_read_back_as_lf(tmp_path):
    g = nx.MultiDiGraph()
    g.add_node("0xaa", label="Binance\r14", flags="a\r\nb")
    write_graphml(g, tmp_path / "cr.graphml")
    back = nx.read_graphml(tmp_path / "cr.graphml").nodes["0xaa"]
    assert back == {"label": "Binance\\x0d14", "flags": "a\\x0d\\x0ab"}  # XML would have made the CR a LF


def test_graphml_of_hostile_text_is_valid_and_reads_back_as_written(tmp_path):
    path = tmp_path / "g.graphml"
    write_graphml(hostile_graph(), path)
    raw = path.read_text(encoding="utf-8")
    assert "\u202e" not in raw and "\r" not in raw and "\x00" not in raw and "\x1b" not in raw
    ET.parse(path)  # well-formed XML 1.0
    back = nx.read_graphml(path, force_multigraph=True)
    assert back.nodes["0xaa"]["label"] == for_file(HOSTILE) == (
        "a\\x00b\\x1b[2Jc\\x0dd\\x0ae\\u202ef\\ud800g\\ufffeh\\u2028i")
    (u, v, d), = back.edges(data=True)
    assert v == "btc:US\\u202eDT" and back.nodes[v]["label"] == "US\\u202eDT"
    assert d["memo"] == "=:b:US\\u202eDT\\x0d"  # the CR kept, visibly: not read back as a LF
    plain = nx.MultiDiGraph()
    plain.add_node("0xbb", label="Velora <router> & \"friends\" stЕTH")
    write_graphml(plain, tmp_path / "plain.graphml")  # printable text: written exactly
    assert nx.read_graphml(tmp_path / "plain.graphml").nodes["0xbb"]["label"] == "Velora <router> & \"friends\" stЕTH"


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_xml_exports_of_hostile_text_parse(tmp_path, fmt):
    path = tmp_path / f"g.{fmt}"
    export(hostile_graph(), fmt, path)
    raw = path.read_text(encoding="utf-8")
    assert "\u202e" not in raw and "\r" not in raw and "\u2028" not in raw
    ET.parse(path)
    back = nx.read_graphml(path, force_multigraph=True) if fmt == "graphml" else nx.read_gexf(path)
    assert "btc:US\\u202eDT" in back and back.nodes["0xaa"]["label"] == for_file(HOSTILE)


def test_csv_and_json_exports_escape_bidi_and_controls(tmp_path):
    written = export(hostile_graph(), "csv", tmp_path / "g.csv") + export(hostile_graph(), "json", tmp_path / "g.json")
    for path in written:
        raw = path.read_text(encoding="utf-8")
        assert "\u202e" not in raw and "\u2028" not in raw and "\x00" not in raw, path
        assert "US\\u202eDT" in (raw if path.suffix == ".csv" else "\n".join(strings(json.loads(raw))))
    with open(tmp_path / "g.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["asset"] == for_file(HOSTILE) and rows[0]["memo"] == "'=:b:US\\u202eDT\\x0d"  # also no formula
    doc = json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))
    assert {n["id"] for n in doc["nodes"]} == {"0xaa", "btc:US\\u202eDT"}


def test_no_output_of_a_traced_case_keeps_a_bidi_override_raw(template, tmp_path):
    db = labelled(template, tmp_path, "Binance\u202e14\u2066")
    for fmt in ("graphml", "gexf", "csv", "json"):
        out = tmp_path / f"g.{fmt}"
        assert run_cli("export", "--db", db, "--format", fmt, "--out", out).exit_code == 0
        files = [out, out.with_name(out.stem + ".nodes.csv")] if fmt == "csv" else [out]
        for f in files:
            raw = f.read_text(encoding="utf-8")
            assert "\u202e" not in raw and "\u2066" not in raw and "\r" not in raw.replace("\r\n", ""), f
            shown = "\n".join(strings(json.loads(raw))) if fmt == "json" else raw
            assert "US\\u202eDT" in shown or f.name.endswith(".nodes.csv"), f
    graph = nx.read_graphml(tmp_path / "g.graphml", force_multigraph=True)
    assert graph.nodes[UNLABELLED_EXIT]["label"] == "Binance\\u202e14\\u2066"
    assert {d["asset"] for _, _, d in graph.edges(data=True)} >= {"US\\u202eDT\\x0d\\x0anew exit:"}
    for args in (["exits", "--csv"], ["exits", "--json"], ["exits", "--format", "tsv"], ["exits", "--format", "table"],
                 ["show", UNLABELLED_EXIT, "--json"], ["show", HOP1_CONSOLIDATION, "--json"],
                 ["show", HOP1_CONSOLIDATION], ["show", HOP1_CONSOLIDATION, "--format", "table"]):
        out = cli_out(*args, "--db", db)
        assert "\u202e" not in out and "\u2066" not in out and not forged_lines(out), args
    assert "Binance\\u202e14\\u2066" in cli_out("exits", "--csv", "--db", db)
    assert "Binance\\u202e14\\u2066" in strings(json.loads(cli_out("show", UNLABELLED_EXIT, "--json", "--db", db)))
