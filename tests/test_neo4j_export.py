"""`tracer export --format neo4j`: the CSVs `neo4j-admin database import full` reads, checked against the import
tool's header rules (no neo4j-admin can be installed from the registries these machines reach: Neo4j ships
neither a Debian, a PyPI nor an npm package of it)."""

from __future__ import annotations

import csv
import re

import networkx as nx

from conftest import EXPLOITER, needs_anvil
from helpers import run_cli, trace

# The import tool's property types (Neo4j Operations Manual, "Import": CSV header format); `[]` makes an array.
TYPES = {"int", "long", "float", "double", "boolean", "byte", "short", "char", "string", "point", "date",
         "localtime", "time", "localdatetime", "datetime", "duration"}
ROLES = {"ID", "LABEL", "START_ID", "END_ID", "TYPE", "IGNORE"}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _columns(header: list[str]) -> list[tuple[str, str]]:
    """(property name, type or role) per column, by the import tool's rules: `name`, `name:type`, `name:ID`,
    `:ROLE`, `:ID(group)`; anything else is refused."""
    out = []
    for field in header:
        name, _, kind = field.partition(":")
        kind = re.sub(r"\(\w+\)\Z", "", kind) if kind.startswith(("ID", "START_ID", "END_ID")) else kind
        assert kind == "" or kind in ROLES or kind.removesuffix("[]") in TYPES, f"bad column type in {field!r}"
        assert name == "" and kind in ROLES or NAME.match(name), f"bad column name in {field!r}"
        out.append((name, kind or "string"))
    return out


def _check(value: str, kind: str) -> None:
    if value == "":
        return  # no property on this row
    if kind in ("long", "int"):
        assert re.fullmatch(r"-?\d+", value), value
    elif kind == "double":
        float(value)
    elif kind == "boolean":
        assert value in ("true", "false"), value


def read_import_files(out) -> tuple[dict[str, dict], list[dict]]:
    """The node and relationship files as the import tool would take them, each rule asserted on the way."""
    nodes: dict[str, dict] = {}
    for path, roles in ((out / "nodes.csv", {"ID": 1, "LABEL": 1}),
                        (out / "relationships.csv", {"START_ID": 1, "END_ID": 1, "TYPE": 1})):
        raw = path.read_bytes().decode("utf-8")
        assert "\r" not in raw  # one row per line: the tool's default --multiline-fields=false
        rows = list(csv.reader(raw.splitlines()))
        cols = _columns(rows[0])
        assert {k: sum(1 for _, kind in cols if kind == k) for k in roles} == roles, rows[0]
        records = []
        for row in rows[1:]:
            assert len(row) == len(cols), row
            for value, (_, kind) in zip(row, cols):
                _check(value, kind)
            records.append({(name or kind): value for value, (name, kind) in zip(row, cols)})
        if path.name == "nodes.csv":
            for r in records:
                assert r["address"] not in nodes, f"duplicate node id {r['address']}"
                assert r["LABEL"] and all(NAME.match(label) for label in r["LABEL"].split(";"))
                nodes[r["address"]] = r
        else:
            rels = records
    for r in rels:
        assert r["START_ID"] in nodes and r["END_ID"] in nodes, r  # no relationship to a missing node
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", r["TYPE"]), r["TYPE"]
    return nodes, rels


def test_the_bybit_trail_exports_as_neo4j_import_files(explorer, db_path, tmp_path):
    graphml = tmp_path / "trail.graphml"
    trace(explorer, db_path, "--graphml", graphml)
    out = tmp_path / "neo4j"
    result = run_cli("export", "--db", db_path, "--format", "neo4j", "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["nodes.csv", "queries.cypher", "relationships.csv"]
    nodes, rels = read_import_files(out)
    graph = nx.read_graphml(graphml, force_multigraph=True)
    assert set(nodes) == set(graph.nodes) and len(rels) == graph.number_of_edges()
    # the same schema and the same exact amounts as GraphML: every edge by its key
    by_key = {r["key"]: r for r in rels}
    for u, v, k, d in graph.edges(keys=True, data=True):
        r = by_key[k]
        assert (r["START_ID"], r["END_ID"], r["amount"], r["tx_hash"], int(r["log_index"])) == \
            (u, v, d["amount"], d["tx_hash"], d["log_index"])
        assert r["TYPE"] == d["kind"].upper().replace("-", "_")
    seed = nodes[EXPLOITER.lower()]
    assert set(seed["LABEL"].split(";")) >= {"Address", "Ethereum", "Seed"} and seed["hop"] == "0"
    assert any("Dex" in n["LABEL"].split(";") for n in nodes.values())
    assert int(max(rels, key=lambda r: int(r["amount"]))["amount"]) > 2**63  # amounts outgrow a long: strings
    queries = (out / "queries.cypher").read_text()
    assert "shortestPath((s)-[:NATIVE|INTERNAL|ERC20|UTXO|BRIDGE*..8]->(x))" in queries and "ORDER BY x.taint_eth DESC" in queries


def test_a_rerun_export_replaces_the_files_and_a_file_in_the_way_is_one_line(explorer, db_path, tmp_path):
    trace(explorer, db_path)
    out = tmp_path / "neo4j"
    out.mkdir()
    (out / "nodes.csv").write_text("old\n")
    (out / "notes.txt").write_text("the analyst's own\n")
    assert run_cli("export", "--db", db_path, "--format", "neo4j", "--out", out).exit_code == 0
    assert (out / "nodes.csv").read_text().startswith("address:ID,") and (out / "notes.txt").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left behind
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    result = run_cli("export", "--db", db_path, "--format", "neo4j", "--out", blocked)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "directory" in result.stderr
    assert blocked.read_text() == "x"


@needs_anvil
def test_bitcoin_nodes_and_the_crossing_export_to_neo4j(tmp_path):
    from test_btc_taint import make_crossed

    crossed = make_crossed(tmp_path)
    out = tmp_path / "neo4j"
    assert run_cli("export", "--db", crossed["db"], "--format", "neo4j", "--out", out).exit_code == 0
    nodes, rels = read_import_files(out)
    bitcoin = [n for n in nodes.values() if "Bitcoin" in n["LABEL"].split(";")]
    assert bitcoin and all(n["address"].startswith("btc:") for n in bitcoin)
    types = {r["TYPE"] for r in rels}
    assert {"BRIDGE", "UTXO", "CO_SPEND"} <= types
    bridge = next(r for r in rels if r["TYPE"] == "BRIDGE")
    assert bridge["received_amount"] == "20000000" and bridge["tx_hash"] == crossed["deposit"]

