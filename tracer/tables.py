"""Tables for `tracer show` and `tracer exits`: aligned (rich) for a person at a terminal,
TSV for a pipe (awk, cut, a spreadsheet), JSON when asked.

Every cell is untrusted text (token symbols, labels, memos): on a terminal it is stripped of
escape sequences and control characters and mixed scripts are marked (safe_text.for_terminal);
rich is given Text objects, never markup, so "[bold]" in a token name stays literal. In TSV the
same cleaning keeps tabs and newlines out of cells, and cells a spreadsheet would evaluate are
neutralised (safe_text.for_spreadsheet).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from .safe_text import for_spreadsheet, for_terminal

@dataclass
class Table:
    title: str
    columns: list[str]  # in a terminal table a cell may hold several lines ("\n"); in TSV never
    rows: list[list[object]] = field(default_factory=list)
    right: frozenset[str] = frozenset()  # columns of numbers, right-aligned on a terminal
    whole: frozenset[str] = frozenset({"address", "token", "rank", "hop", "traced_eth", "in", "out", "transfers",
                                       "direction"})  # never folded: an address must be copyable
    note: str = ""  # a line under the table (what was left out, how to see it)


def resolve_format(requested: str, stream: TextIO | None = None) -> str:
    """auto: a table on a terminal, TSV when piped or redirected."""
    if requested != "auto":
        return requested
    stream = stream or sys.stdout
    return "table" if hasattr(stream, "isatty") and stream.isatty() else "tsv"


def render(tables: list[Table], fmt: str, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    if fmt == "tsv":
        for i, table in enumerate(tables):
            if i:
                stream.write("\n")
            stream.write("\t".join(table.columns) + "\n")
            for row in table.rows:
                stream.write("\t".join(_tsv_cell(c) for c in row) + "\n")
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=False)
    for table in tables:
        out = RichTable(title=Text(for_terminal(table.title)), title_justify="left", header_style="bold",
                        show_lines=False, expand=False, box=box.SIMPLE_HEAD)
        for column in table.columns:
            out.add_column(Text(column), justify="right" if column in table.right else "left",
                           no_wrap=column in table.whole, overflow="ellipsis" if column in table.whole else "fold",
                           min_width=None if column in table.whole else 8)
        for row in table.rows:
            out.add_row(*(Text("\n".join(for_terminal(line) for line in ("" if c is None else str(c)).split("\n")))
                          for c in row))
        console.print(out)
        if table.note:
            console.print(Text(for_terminal(table.note), style="dim"))


def _tsv_cell(value: object) -> str:
    return str(for_spreadsheet(for_terminal("" if value is None else str(value))))
