"""A streaming GraphML writer.

networkx.write_graphml builds the whole document as an ElementTree first:
for a million-transfer graph that is gigabytes of objects and minutes of
work. This writes the same GraphML line by line (typed keys declared up
front, "long"/"double"/"boolean"/"string" as networkx declares them), so
networkx.read_graphml reads back the identical graph; benchmarks/scale.py
compares the two and keeps the record.

Text is written as safe_text.for_file gives it: controls (CR, LF, tab, ESC, NUL…), bidi and
zero-width characters, line separators and lone surrogates become visible \\xNN / \\uXXXX text.
So the file is valid XML 1.0 whatever a token calls itself (XML cannot hold most C0 controls or
a surrogate at all), a CR is not read back as LF (XML line-end normalisation), and Gephi or yEd
cannot show "US\\u202eDT" as another symbol. Plain printable text is written unchanged, so for it
networkx.read_graphml still reads back exactly what networkx.write_graphml would have written.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from itertools import chain as _chain

import networkx as nx

from .safe_text import for_file

_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}
_HEAD = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
)


def _escape(text: str) -> str:
    if not text.isprintable():  # rare: controls, bidi, separators, surrogates (see the module docstring)
        text = for_file(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text) -> str:
    """An XML attribute value (ids, key names), quoted, with the same rule as element text."""
    text = str(text)
    return quoteattr(text if text.isprintable() else for_file(text))


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return _escape(str(v))


def _keys(items, domain: str) -> dict[str, tuple[str, str]]:
    """name -> (key id, GraphML type), from the first value of each attribute."""
    keys: dict[str, tuple[str, str]] = {}
    for data in items:
        for name, value in data.items():
            if name not in keys:
                kind = _TYPES.get(type(value))
                if kind is None:
                    raise TypeError(f"GraphML cannot hold {domain} attribute {name!r} of type {type(value).__name__}")
                keys[name] = (f"{domain[0]}_{name}", kind)
    return keys


def write_graphml(graph: nx.MultiDiGraph, path: str | Path, edge_defaults: dict | None = None) -> None:
    """edge_defaults: values written for attributes an edge lacks (so every edge carries every key,
    without filling a million-edge graph in memory first)."""
    defaults = edge_defaults or {}
    node_keys = _keys((d for _, d in graph.nodes(data=True)), "node")
    edge_keys = _keys(_chain((d for _, _, d in graph.edges(data=True)), [defaults]), "edge")
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        out.write(_HEAD)
        for domain, keys in (("node", node_keys), ("edge", edge_keys)):
            for name, (key_id, kind) in keys.items():
                out.write(f'  <key id={_attr(key_id)} for="{domain}" attr.name={_attr(name)} '
                          f'attr.type="{kind}" />\n')
        out.write('  <graph edgedefault="directed">\n')
        write = out.write
        for node, data in graph.nodes(data=True):
            write(f"    <node id={_attr(node)}>\n")
            for name, value in data.items():
                write(f'      <data key="{node_keys[name][0]}">{_value(value)}</data>\n')
            write("    </node>\n")
        for u, v, k, data in graph.edges(keys=True, data=True):
            write(f"    <edge source={_attr(u)} target={_attr(v)} id={_attr(k)}>\n")
            for name, value in data.items():
                write(f'      <data key="{edge_keys[name][0]}">{_value(value)}</data>\n')
            for name, value in defaults.items():
                if name not in data:
                    write(f'      <data key="{edge_keys[name][0]}">{_value(value)}</data>\n')
            write("    </edge>\n")
        out.write("  </graph>\n</graphml>\n")
