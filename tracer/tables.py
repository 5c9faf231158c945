"""Tables for `tracer show` and `tracer exits`: aligned (rich) for a person at a terminal,
TSV for a pipe (awk, cut, a spreadsheet), JSON when asked.

Every cell is untrusted text (token symbols, labels, memos): on a terminal it is stripped of
escape sequences, control, bidi and line-breaking characters are shown escaped and mixed scripts
are marked (safe_text.for_terminal); rich is given Text objects, never markup, so "[bold]" in a
token name stays literal. A cell never breaks a line of its own: a newline inside a label is
shown as \\x0a. Only a cell our code builds from several parts is drawn on several lines, and
it says so by being a `Lines` (each part cleaned on its own). On a terminal a part longer than
CELL_CHARS is cut ("…(N more chars)"), so one hostile label cannot make a row a screen tall;
TSV keeps the whole text. In TSV the same cleaning keeps tabs and newlines out of cells, and
cells a spreadsheet would evaluate are neutralised (safe_text.for_spreadsheet).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from .safe_text import for_spreadsheet, for_terminal

CELL_CHARS = 100  # a terminal cell (or one part of a Lines cell) shows at most this much of its text


class Lines(tuple):
    """A cell built by our code from several parts, one line each on a terminal ("; "-joined in TSV).
    Each part is untrusted text, cleaned and cut on its own; empty parts are left out."""

    def __new__(cls, parts=()):
        return super().__new__(cls, (p for p in parts if p is not None and p != ""))


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)  # a cell: a value, or Lines (several, terminal only)
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


def render(tables: list[Table], fmt: str, stream: TextIO | None = None, width: int | None = None) -> None:
    """width: the terminal table's width (default: the terminal's, or $COLUMNS, or 80)."""
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

    console = Console(file=stream, highlight=False, soft_wrap=False, width=width)
    for table in tables:
        out = RichTable(title=Text(for_terminal(table.title, CELL_CHARS)), title_justify="left",
                        header_style="bold", show_lines=False, expand=False, box=box.SIMPLE_HEAD)
        for column in table.columns:
            out.add_column(Text(column), justify="right" if column in table.right else "left",
                           no_wrap=column in table.whole, overflow="ellipsis" if column in table.whole else "fold",
                           min_width=None if column in table.whole else 8)
        for row in table.rows:
            out.add_row(*(Text(terminal_cell(c)) for c in row))
        console.print(out)
        if table.note:
            console.print(Text(for_terminal(table.note), style="dim"))


def terminal_cell(value: object) -> str:
    """A cell's text on a terminal: one line per part of a Lines, one line for anything else
    (its own line breaks escaped), each cut to CELL_CHARS."""
    if isinstance(value, Lines):
        return "\n".join(for_terminal(part, CELL_CHARS) for part in value)
    return for_terminal("" if value is None else str(value), CELL_CHARS)


def _tsv_cell(value: object) -> str:
    if isinstance(value, Lines):
        value = "; ".join(for_terminal(part) for part in value)
        return str(for_spreadsheet(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # our own numbers (a hop of -1) are not formulas
    return str(for_spreadsheet(for_terminal("" if value is None else str(value))))
