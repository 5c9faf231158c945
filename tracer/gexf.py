"""A streaming GEXF 1.2 writer (Gephi's own format), for the same reason as graphml.py.

Laid out as networkx.write_gexf lays it out (node `label` as the GEXF label,
the multigraph key in a `networkx_key` edge attribute), so networkx.read_gexf
and Gephi read it alike, without building the document in memory first.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from itertools import chain as _chain

import networkx as nx

_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _declare(items, skip: set[str]) -> dict[str, tuple[str, str]]:
    keys: dict[str, tuple[str, str]] = {}
    for data in items:
        for name, value in data.items():
            if name not in keys and name not in skip:
                kind = _TYPES.get(type(value))
                if kind is None:
                    raise TypeError(f"GEXF cannot hold attribute {name!r} of type {type(value).__name__}")
                keys[name] = (str(len(keys)), kind)
    return keys


def write_gexf(graph: nx.MultiDiGraph, path: str | Path, edge_defaults: dict | None = None) -> None:
    defaults = edge_defaults or {}
    node_keys = _declare((d for _, d in graph.nodes(data=True)), {"label"})
    edge_keys = _declare(_chain((d for _, _, d in graph.edges(data=True)), [defaults]), {"label"})
    edge_keys["networkx_key"] = (str(len(edge_keys)), "string")
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        write = out.write
        write("<?xml version='1.0' encoding='utf-8'?>\n"
              '<gexf xmlns="http://www.gexf.net/1.2draft" version="1.2">\n'
              '  <graph defaultedgetype="directed" mode="static" name="">\n')
        for domain, keys in (("node", node_keys), ("edge", edge_keys)):
            write(f'    <attributes mode="static" class="{domain}">\n')
            for name, (key_id, kind) in keys.items():
                write(f'      <attribute id="{key_id}" title={quoteattr(name)} type="{kind}" />\n')
            write("    </attributes>\n")
        write("    <nodes>\n")
        for node, data in graph.nodes(data=True):
            label = data.get("label", str(node))
            write(f"      <node id={quoteattr(str(node))} label={quoteattr(str(label))}>\n        <attvalues>\n")
            for name, value in data.items():
                if name != "label":
                    write(f'          <attvalue for="{node_keys[name][0]}" value={quoteattr(_value(value))} />\n')
            write("        </attvalues>\n      </node>\n")
        write("    </nodes>\n    <edges>\n")
        for i, (u, v, k, data) in enumerate(graph.edges(keys=True, data=True)):
            write(f'      <edge source={quoteattr(str(u))} target={quoteattr(str(v))} id="{i}">\n        <attvalues>\n')
            extra = [(n, v) for n, v in defaults.items() if n not in data]
            for name, value in (*data.items(), *extra, ("networkx_key", k)):
                write(f'          <attvalue for="{edge_keys[name][0]}" value={quoteattr(_value(value))} />\n')
            write("        </attvalues>\n      </edge>\n")
        write("    </edges>\n  </graph>\n</gexf>\n")
