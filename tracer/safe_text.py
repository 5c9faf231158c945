"""On-chain text is written by anyone: make it safe for each place it is shown.

Token names and symbols, labels from datasets and bridge memos reach the
analyst's terminal, spreadsheets, XML files and reports. A token named
"\\x1b[2J…" must not clear the screen; a cell starting with "=" must not
become a spreadsheet formula; a symbol mixing scripts ("stЕTH" with a
Cyrillic Е) must stay visibly suspicious rather than pass for "stETH".
"""

from __future__ import annotations

import re
import unicodedata

_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def for_terminal(text: str) -> str:
    """No escape sequences, no control characters (shown as \\xNN), look-alike scripts marked."""
    cleaned = _ANSI.sub("", str(text))
    out = []
    for ch in cleaned:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") and ch not in " ":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    result = "".join(out)
    return f"{result} ⚠mixed-script" if mixes_scripts(result) else result


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
