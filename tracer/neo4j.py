"""Neo4j bulk-import files: a case too big to explore in one networkx process goes to a graph database.

`neo4j-admin database import full` reads CSV whose header names each column's role and type: `address:ID`
(the node's id, kept as the `address` property), `:LABEL` (labels separated by the array delimiter `;`),
`:START_ID`/`:END_ID`/`:TYPE` for relationships, and `name:type` for typed properties (long, double, boolean;
an untyped column is a string). Quotes are doubled inside quoted fields (RFC 4180, the import tool's default
since `--legacy-style-quoting` went off by default), and a field never holds a line break (safe_text.for_file
escapes them), so the tool's default `--multiline-fields=false` reads every row.

The properties are the graph schema of every other format (README "Graph schema"): amounts stay exact
decimal strings (wei and satoshis outgrow Neo4j's 64-bit integers), `value` and `taint_eth` are doubles for
weighting only. Rows are written as the graph is walked, nothing is gathered first.
"""

from __future__ import annotations

import csv
from pathlib import Path

import networkx as nx

NODES_FILE = "nodes.csv"
RELATIONSHIPS_FILE = "relationships.csv"
QUERIES_FILE = "queries.cypher"

# property -> Neo4j import type; a property not named here is a string
TYPES = {"hop": "long", "is_contract": "boolean", "followed": "boolean", "taint_eth": "double",
         "block": "long", "timestamp": "long", "log_index": "long", "value": "double", "confidence": "double"}

QUERIES = """\
// Queries for a tracer case imported into Neo4j (README "Explore a big case in Neo4j").
// Nodes are :Address (and :Ethereum, :Bitcoin or :Destination, and their category, e.g. :Exchange);
// relationships are typed by kind (NATIVE, INTERNAL, ERC20, UTXO, BRIDGE, SWAP, CO_SPEND, INFERRED) and carry
// tx_hash, log_index, block, timestamp, asset, token, amount (exact base units, a string) and taint_wei.

// Where the value went: the shortest path of value-moving hops from each seed to each exit (co-spend and
// inferred mixer links move nothing and are left out).
MATCH (s:Seed), (x:Address)
WHERE x:Exchange OR x:Bridge OR x:Mixer OR x:Service
MATCH p = shortestPath((s)-[:NATIVE|INTERNAL|ERC20|UTXO|BRIDGE*..8]->(x))
RETURN s.address, x.address, x.label, length(p) AS hops, p ORDER BY hops LIMIT 25;

// The exits that received the most traced value (ETH class, haircut model; Bitcoin exits by satoshis).
MATCH (x:Address)
WHERE (x:Exchange OR x:Bridge OR x:Mixer OR x:Service OR x:Dex)
  AND (x.taint_eth > 0 OR toInteger(x.taint_sats) > 0)
RETURN x.address, x.label, x.category, x.hop, x.taint_wei, x.taint_sats
ORDER BY x.taint_eth DESC, toInteger(x.taint_sats) DESC LIMIT 50;

// Every transfer into an exchange, with the transaction that proves it (for one address instead:
// MATCH (a)-[t]->(x:Address {address: '0x...'}) ...).
MATCH (a)-[t]->(x:Exchange)
RETURN a.address, type(t), t.asset, t.amount, t.tx_hash, t.log_index, t.block, x.address, x.label
ORDER BY t.block LIMIT 200;

// Across the bridge into Bitcoin: each crossing and what left the address it paid.
MATCH (d)-[b:BRIDGE]->(btc:Bitcoin)-[u:UTXO]->(next)
RETURN d.address, b.tx_hash, b.received_amount, btc.address, u.tx_hash, u.amount, next.address
ORDER BY b.block;
"""


def _typed(name: str) -> str:
    kind = TYPES.get(name)
    return f"{name}:{kind}" if kind else name


def _cell(name: str, value) -> str:
    """A value as the import tool reads its column's type; "" (no property) where there is none."""
    if value is None or value == "":
        return ""
    kind = TYPES.get(name)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "long":
        return str(int(value))
    if kind == "double":
        return repr(float(value))
    return str(value)


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.replace("_", "-").split("-") if part)


def node_labels(node: str, data: dict) -> str:
    chain = "Ethereum" if node.startswith("0x") else "Bitcoin" if node.startswith("btc:") else "Destination"
    labels = ["Address", chain]
    category = data.get("category") or ""
    if category and _camel(category) not in labels:
        labels.append(_camel(category))
    return ";".join(labels)


def relationship_type(kind: str) -> str:
    return (kind or "transfer").upper().replace("-", "_")


def write_neo4j(graph: nx.MultiDiGraph, out: Path, node_fields: tuple[str, ...], edge_fields: tuple[str, ...],
                defaults: dict, text) -> list[Path]:
    """nodes.csv, relationships.csv and queries.cypher in the directory `out` (made if missing). `text` makes
    a value file-safe (safe_text.for_file where needed)."""
    out.mkdir(parents=True, exist_ok=True)
    nodes_path, rels_path, queries_path = out / NODES_FILE, out / RELATIONSHIPS_FILE, out / QUERIES_FILE
    with open(nodes_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("address:ID", *map(_typed, node_fields), ":LABEL"))
        for n, d in graph.nodes(data=True):
            w.writerow((text(n), *(text(_cell(f, d.get(f))) for f in node_fields), node_labels(n, d)))
    with open(rels_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow((":START_ID", ":END_ID", "key", *map(_typed, edge_fields), ":TYPE"))
        for u, v, k, d in graph.edges(keys=True, data=True):
            w.writerow((text(u), text(v), text(k), *(text(_cell(f, d.get(f, defaults.get(f)))) for f in edge_fields),
                        relationship_type(d.get("kind", ""))))
    queries_path.write_text(QUERIES, encoding="utf-8")
    return [nodes_path, rels_path, queries_path]
