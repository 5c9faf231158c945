"""On-chain text is written by anyone: make it safe for each place it is shown.

Token names and symbols, labels from datasets and bridge memos reach the
analyst's terminal, spreadsheets, XML files and reports. A token named
"\\x1b[2J…" must not clear the screen; a cell starting with "=" must not
become a spreadsheet formula; a symbol mixing scripts ("stЕTH" with a
Cyrillic Е) must stay visibly suspicious rather than pass for "stETH"; a
label must not carry its own line break (a fake "new exit:" line) or a
right-to-left override ("US\\u202eDT" shown as another symbol).

The rule, per place:

- terminal (tables, messages; for_terminal): escape sequences removed; every
  control (Cc: C0, DEL, C1 such as \\x85, so also \\n, \\r, \\t), format
  character (Cf: the bidi controls U+200E/200F, U+061C, U+202A-202E,
  U+2066-2069, zero-width characters, BOM), line/paragraph separator
  (U+2028/2029), surrogate, private-use or unassigned code point is shown as
  visible text, \\xNN / \\uXXXX / \\UXXXXXXXX; mixed scripts marked. A table
  cell is also cut to a few lines: "…(N more chars)" (tables.py).
- files and pipes (GraphML, GEXF, CSV, TSV, JSON; for_file): the same
  characters escaped the same visible way, nothing removed and nothing cut
  (an escape sequence keeps its text, "\\x1b[2J"), no mark added: the file
  keeps every printable character of what was on chain, and no viewer
  (Gephi, a spreadsheet, an editor, jq on a terminal) can be made to show
  one thing for another or to break a line. It also makes any text valid in
  XML 1.0 (which cannot hold most C0 controls or a lone surrogate even as a
  character reference) and keeps a CR from being read back as LF.
  Spreadsheet-bound cells (CSV, TSV) are also neutralised (for_spreadsheet).

Visible escapes are not undone on reading: a file holds "US\\u202eDT" as
those nine characters, which is what an analyst should see. Plain text
(everything printable) is returned unchanged, so our own values — addresses,
hashes, numbers, categories — are never touched.
"""

from __future__ import annotations

import re
import unicodedata

_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Controls, format characters (bidi, zero-width), line/paragraph separators, surrogates, private use, unassigned.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape_invisible(text: str) -> str:
    if text.isprintable():  # the common case, at C speed: no control, format or separator character
        return text
    return "".join(_escape(ch) if ch != " " and unicodedata.category(ch) in _ESCAPED_CATEGORIES else ch
                   for ch in text)


def for_terminal(text: str, limit: int | None = None) -> str:
    """No escape sequences, no control, bidi or line-breaking characters (shown as \\xNN, \\uXXXX),
    look-alike scripts marked. limit: cut the cleaned text to that many characters plus
    "…(N more chars)" (the mark, if any, is kept)."""
    result = _escape_invisible(_ANSI.sub("", str(text)))
    mark = " ⚠mixed-script" if mixes_scripts(result) else ""
    if limit is not None and len(result) > limit:
        result = f"{result[:limit]}…({len(result) - limit} more chars)"
    return result + mark


def for_file(text: str) -> str:
    """Text for a file or a pipe: control, bidi, zero-width and line-separator characters (and lone
    surrogates, private-use and unassigned code points) written as visible \\xNN / \\uXXXX text;
    everything else, escape sequences' printable part included, kept. Idempotent."""
    return _escape_invisible(str(text))


def for_file_values(value):
    """for_file on every string inside a JSON-like value (dicts, lists, tuples); other values as they are."""
    if isinstance(value, str):
        return for_file(value)
    if isinstance(value, dict):
        return {for_file_values(k): for_file_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [for_file_values(v) for v in value]
    return value


def mixes_scripts(text: str) -> bool:
    """Latin letters together with letters of another script: the disguise of a counterfeit symbol."""
    scripts = set()
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            scripts.add(name.split(" ")[0] if name else "?")
    return "LATIN" in scripts and len(scripts) > 1


def for_spreadsheet(value):
    """A cell a spreadsheet will not evaluate: text starting with = + - @ tab or CR gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
