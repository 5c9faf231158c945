"""The addresses OFAC's SDN list ties to Lazarus Group, as seeds.

OFAC publishes the SDN list keyless as comma-separated files without a header row (its "SDN data
specification", updated 2023-09-25, beside the files): `sdn.csv` has one row per entry — ent_num, SDN_Name,
SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks — with "-0-"
for an empty field, and `sdn_comments.csv` continues the remarks that do not fit (ent_num, Remarks_Extended).
Digital currency addresses are in the remarks, each as "Digital Currency Address - <symbol> <address>;"
(OFAC FAQ 563). Lazarus Group's own entry holds many of them, so its remarks run on into the comments file:
both files are read, or the sync is refused.

An entry is Lazarus's when its name is LAZARUS GROUP or its remarks say "Linked To: LAZARUS GROUP". The
per-asset lists others derive from the SDN list (e.g. 0xB10C's sanctioned_addresses_ETH.json) do not say
which entry an address belongs to (Tornado Cash's pools are in them too), so they cannot be used here.
"""

from __future__ import annotations

import csv
import io
import re

from .errors import InputError
from .seed_feed import Parsed, SyncedSeed

SDN_URL = "https://www.treasury.gov/ofac/downloads/sdn.csv"
COMMENTS_NAME = "sdn_comments.csv"
REMARKS_CUT = 1000  # sdn.csv's Remarks hold at most this many characters; the rest goes on in sdn_comments.csv
CASE = "ofac-lazarus-group"
_ADDRESS = re.compile(r"Digital Currency Address - ([A-Za-z0-9]{2,10})\s+([^\s;,]+)")
# OFAC's currency symbols -> this tool's chain keys (those of the LazarusBounty feed)
SYMBOLS = {"ETH": "eth", "XBT": "btc", "TRX": "tron", "BSC": "bsc", "ARB": "arbi", "SOL": "solana"}
TOKENS = ("USDT", "USDC")  # listed by token, not chain: the address's format tells (0x… Ethereum, T… Tron)


def comments_location(sdn_location: str) -> str:
    """Where the remarks' continuation lives: beside sdn.csv (same directory or URL path), named in the same
    case (OFAC's list service publishes SDN.CSV and SDN_COMMENTS.CSV)."""
    head, sep, name = sdn_location.rpartition("/")
    comments = COMMENTS_NAME.upper() if name.isupper() else COMMENTS_NAME
    return f"{head}{sep}{comments}" if sep else comments


def parse_sdn(sdn: bytes, comments: bytes) -> Parsed:
    """The Lazarus-tied addresses of an SDN list; InputError for files that are not OFAC's CSV at all."""
    rows = _rows(sdn, "sdn.csv")
    numbered = [r for r in rows[:10] if r[0].strip().isdigit()]
    if not rows or not rows[0][0].strip().isdigit() or not all(len(r) >= 12 for r in numbered[:5]):
        raise InputError("not OFAC's sdn.csv: expected rows of 12 comma-separated fields, the first an entry "
                         "number")
    out = Parsed()
    remarks: dict[str, str] = {}
    names: dict[str, str] = {}
    for r in rows:
        if len(r) < 12 or not r[0].strip().isdigit():
            out.quirks["sdn.csv row not 12 fields"] += 1
            continue
        if len(r) > 12:  # a stray double quote in a remark (moov-io/watchman#248) splits it: joined back
            out.quirks["remarks split by a stray quote (joined back)"] += 1
        ent = r[0].strip()
        names[ent] = r[1].strip()
        remarks[ent] = _field(",".join(r[11:]))
    cut = {ent for ent, text in remarks.items() if len(text) >= REMARKS_CUT}
    continued: set[str] = set()
    comment_rows = _rows(comments, COMMENTS_NAME)
    for r in comment_rows:
        if len(r) < 2 or not r[0].strip().isdigit():
            out.quirks[f"{COMMENTS_NAME} row not 2 fields"] += 1  # (seen in the real file: skipped, as others do)
            continue
        if len(r) > 2:
            out.quirks["remarks split by a stray quote (joined back)"] += 1
        ent = r[0].strip()
        if ent in remarks:
            remarks[ent] += _field(",".join(r[1:]))  # (the text goes on mid-word: nothing between the two)
            continued.add(ent)
    if cut and not continued:
        raise InputError(f"{len(cut)} entries' remarks are cut at {REMARKS_CUT} characters and {COMMENTS_NAME} "
                         "continues none of them: an empty or truncated copy")
    out.quirks.update({"remarks cut and not continued": len(cut - continued)} if cut - continued else {})
    seen: set[tuple[str, str]] = set()
    for ent, text in remarks.items():
        if "LAZARUS GROUP" not in names[ent].upper() and "LINKED TO: LAZARUS GROUP" not in text.upper():
            continue
        if ent in cut and ent not in continued:
            raise InputError(f"the remarks of entry {ent} ({names[ent][:60]}) are cut at {REMARKS_CUT} characters and "
                             f"{COMMENTS_NAME} does not continue them: an older or truncated copy")
        out.quirks["entries tied to Lazarus Group"] += 1
        for symbol, written in _ADDRESS.findall(text):
            written = written.rstrip(".")  # the last item of an entry's remarks ends its sentence
            chain = _chain(symbol.upper(), written)
            supported = chain in SYMBOLS.values()
            valid = out.address_of(chain, written, supported)
            if valid is None:
                continue
            address, flags = valid
            if not supported:
                out.quirks[f"unsupported chain {chain}"] += 1
            if (chain, address) in seen:
                out.quirks["duplicate"] += 1
                continue
            seen.add((chain, address))
            out.seeds.append(SyncedSeed(chain, address, CASE, flags))
    if not out.quirks["entries tied to Lazarus Group"]:
        raise InputError("no entry of Lazarus Group in it: not the SDN list, or a part of it")
    if not out.seeds:
        raise InputError("Lazarus Group's entries list no address: the remarks may be cut (is "
                         f"{COMMENTS_NAME} the one published with this sdn.csv?)")
    return out


def _chain(symbol: str, address: str) -> str:
    if symbol in SYMBOLS:
        return SYMBOLS[symbol]
    if symbol in TOKENS:
        return "eth" if address.startswith("0x") else "tron" if address.startswith("T") else symbol.lower()
    return symbol.lower()


def _field(value: str) -> str:
    """A field as written ("-0-" is empty): never stripped, since a remark cut mid-sentence may end or go on
    with the space between two words."""
    return "" if value.strip() == "-0-" else value


def _rows(raw: bytes, name: str) -> list[list[str]]:
    head = raw[:512].lstrip().lower()
    if head.startswith(b"<"):
        raise InputError(f"{name} is an HTML page, not OFAC's CSV (an error page or a moved URL?)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # OFAC's legacy files are ASCII with the odd Latin-1 name
    text = text.rstrip().rstrip("\x1a")  # the legacy files end with a DOS end-of-file mark
    try:
        return [r for r in csv.reader(io.StringIO(text, newline="")) if r and any(f.strip() for f in r)]
    except csv.Error as exc:
        raise InputError(f"{name} is not comma-separated values ({exc})") from None
