"""Importing public label datasets into the store, each label keeping the file it came from.

Formats read (as published; tests/data/labels/ holds a sample of each):
- etherscan-labels combined JSON: {address: {"name": str, "labels": [str]}};
- etherscan-labels per-label files: accounts/<label>.json ({address: name}) and .csv (Address, Name Tag);
- eth-labels: <label>.accounts.json ([{"address", "nameTag"}]);
- OFAC SDN lists: sanctioned_addresses_<ASSET>.json (list) or .txt (one a line);
- Forta labelled datasets: CSVs with banned_address / contract_address / address columns.

A label's category decides whether a trace stops there (exchange, bridge,
mixer, dex, service) or only annotates (sanctioned, phishing, malicious).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .addresses import is_address
from .errors import InputError

EXCHANGES = {
    "binance", "coinbase", "kraken", "okx", "okex", "huobi", "htx", "kucoin", "bitfinex", "gemini", "bybit",
    "gate-io", "gate.io", "crypto-com", "crypto.com", "ftx", "bitstamp", "poloniex", "bittrex", "upbit",
    "bithumb", "mexc", "bitget", "exchange", "bitmex", "deribit", "bitflyer", "coinone", "korbit", "hitbtc",
    "bitmart", "lbank", "probit", "zb-com", "hotbit", "exch",
}
# Checked in order: an "exploiter" of a bridge is malicious, not a bridge.
_CATEGORY_WORDS = [
    (re.compile(r"phish|fake_|scam", re.I), "phishing"),
    (re.compile(r"exploit|heist|hack|malicious|attacker|drainer", re.I), "malicious"),
    (re.compile(r"tornado|mixer|mixing|sinbad|blender|railgun|cyclone", re.I), "mixer"),
    (re.compile(r"bridge|thorchain|wormhole|stargate|multichain|synapse|hop-protocol|across|celer|layerzero"
                r"|chainflip|li-?fi|orbiter|connext|polygon-pos|arbitrum-bridge|optimism-gateway", re.I), "bridge"),
    (re.compile(r"\bdex\b|uniswap|sushiswap|1inch|0x-protocol|paraswap|velora|dodo|curve|balancer|kyber"
                r"|cowswap|cow-protocol|bancor|aggregator", re.I), "dex"),
]


@dataclass(frozen=True, slots=True)
class ImportedLabel:
    address: str
    label: str
    category: str
    source: str


def category_of(tags: list[str], name: str = "") -> str:
    """exchange, mixer, bridge, dex (the trace stops there); phishing, malicious (annotations);
    "other" for everything else, which only names the address."""
    text = " ".join(tags) + " " + name
    for pattern, category in _CATEGORY_WORDS[:2]:
        if pattern.search(text):
            return category
    if any(tag.lower() in EXCHANGES for tag in tags):
        return "exchange"
    for pattern, category in _CATEGORY_WORDS[2:]:
        if pattern.search(text):
            return category
    return "other"


def read_labels(path: Path) -> Iterator[ImportedLabel]:
    """Every label in a file, or in every recognised file under a folder."""
    if not path.exists():
        raise InputError(f"no such file or folder: {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    recognised = 0
    for f in files:
        reader = _reader_for(f)
        if reader is None:
            continue
        recognised += 1
        try:
            yield from reader(f)
        except InputError:
            raise
        except (UnicodeDecodeError, TypeError, AttributeError, KeyError, IndexError, ValueError, csv.Error,
                RecursionError) as exc:  # a file in the right place but not of its format: say which, stop
            raise InputError(f"{f} is not a valid {reader.__name__.strip('_').replace('_', '-')} label file "
                             f"({type(exc).__name__})") from None
    if not recognised:
        raise InputError(f"no label file of a known format in {path}; files are recognised by name: {KNOWN_NAMES}")


KNOWN_NAMES = ("sanctioned_addresses_<ASSET>.json or .txt (OFAC), <label>.accounts.json (eth-labels), "
               "combined*.json (etherscan-labels), accounts/<label>.json (etherscan-labels), *.csv "
               "(etherscan-labels per-label CSV, Forta labelled datasets)")


def _reader_for(f: Path):
    name = f.name
    if name.startswith("sanctioned_addresses_") and f.suffix in (".json", ".txt"):
        return _ofac
    if name.endswith(".accounts.json"):
        return _eth_labels
    if name.startswith("combined") and name.endswith(".json"):
        return _combined
    if f.suffix == ".json" and f.parent.name == "accounts":
        return _per_label_json
    if f.suffix == ".csv":
        return _csv
    return None


def _source(f: Path, dataset: str) -> str:
    return f"{dataset}: {f.parent.name}/{f.name}"


MAX_JSON_DEPTH = 32  # the published datasets nest 3 deep; a hostile file nested 100,000 deep would crash the parser


def _load_json(f: Path):
    try:
        text = f.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{f} is not valid JSON ({exc.__class__.__name__})") from None
    if _nesting(text) > MAX_JSON_DEPTH:
        raise InputError(f"{f} is not a label file: JSON nested more than {MAX_JSON_DEPTH} deep")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"{f} is not valid JSON ({exc.__class__.__name__})") from None


def _nesting(text: str) -> int:
    """How deep brackets nest outside strings (json's C parser recurses once a level: check before)."""
    outside_strings = re.sub(r'"(?:\\.|[^"\\])*"', "", text)
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", outside_strings):
        depth += 1 if bracket in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                break
    return deepest


def _combined(f: Path) -> Iterator[ImportedLabel]:
    data = _load_json(f)
    if not isinstance(data, dict):
        raise InputError(f"{f}: expected an object of address → {{name, labels}}")
    src = _source(f, "etherscan-labels")
    for address, info in data.items():
        if not is_address(address) or not isinstance(info, dict):
            continue
        tags = [str(t) for t in info.get("labels") or []]
        name = str(info.get("name") or "") or ", ".join(tags)
        if name:
            yield ImportedLabel(address.lower(), name, category_of(tags, name), src)


def _per_label_json(f: Path) -> Iterator[ImportedLabel]:
    data = _load_json(f)
    if not isinstance(data, dict):
        raise InputError(f"{f}: expected an object of address → name tag")
    tag = f.stem
    src = _source(f, "etherscan-labels")
    for address, name in data.items():
        if is_address(address):
            yield ImportedLabel(address.lower(), str(name or tag), category_of([tag], str(name)), src)


def _eth_labels(f: Path) -> Iterator[ImportedLabel]:
    data = _load_json(f)
    if not isinstance(data, list):
        raise InputError(f"{f}: expected a list of {{address, nameTag}}")
    tag = f.name.removesuffix(".accounts.json")
    src = _source(f, "eth-labels")
    for entry in data:
        if isinstance(entry, dict) and is_address(str(entry.get("address", ""))):
            name = str(entry.get("nameTag") or tag)
            yield ImportedLabel(entry["address"].lower(), name, category_of([tag], name), src)


def _ofac(f: Path) -> Iterator[ImportedLabel]:
    if f.suffix == ".json":
        data = _load_json(f)
        if not isinstance(data, list):
            raise InputError(f"{f}: expected a list of addresses")
        entries = [str(x) for x in data]
    else:
        entries = [line.strip() for line in f.read_text(encoding="utf-8").splitlines()]
    asset = f.stem.removeprefix("sanctioned_addresses_")
    src = _source(f, "OFAC SDN list")
    from .btc import node_for

    for address in entries:
        if is_address(address):
            yield ImportedLabel(address.lower(), f"OFAC SDN sanctioned ({asset} list)", "sanctioned", src)
        elif asset == "XBT" and address and node_for(address):  # Bitcoin's list: its nodes are btc:<address>
            yield ImportedLabel(node_for(address), f"OFAC SDN sanctioned ({asset} list)", "sanctioned", src)


_ADDRESS_COLUMNS = ("address", "banned_address", "contract_address")
_NAME_COLUMNS = ("name tag", "wallet_tag", "contract_tag", "etherscan_tag", "nametag", "name")


def _csv(f: Path) -> Iterator[ImportedLabel]:
    with open(f, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = {c.lower().strip(): c for c in reader.fieldnames or [] if c}
        addr_col = next((columns[c] for c in _ADDRESS_COLUMNS if c in columns), None)
        if addr_col is None:
            return
        name_col = next((columns[c] for c in _NAME_COLUMNS if c in columns), None)
        forta = f.parent.parent.name == "labels" or "data_source" in columns or "contract_creator" in columns
        dataset = "forta labelled-datasets" if forta else "etherscan-labels"
        tag = f.stem
        src = _source(f, dataset)
        for row in reader:
            address = (row.get(addr_col) or "").strip()
            if not is_address(address):
                continue
            name = (row.get(name_col) or "").strip() if name_col else ""
            extra = [row.get(columns[c]) or "" for c in ("etherscan_labels", "contract_creator_etherscan_label")
                     if c in columns]
            tags = [tag, *extra]
            yield ImportedLabel(address.lower(), name or tag, category_of(tags, name), src)
