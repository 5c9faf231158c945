"""Curated labels for known services, each with the source that names it.

A trace must stop at services (a DEX router does not "own" the stolen
ETH it routes) and an analyst must be able to check every label, so each
entry in data/labels.json names where the attribution comes from.

The labels are also where the exit decoders learn which contracts to read
(`decoder`: a THORChain router, a Tornado pool and its denomination, ...):
one list, so that a label and a decoder constant can never drift apart.
Routers rotate faster than releases, so a user's labels file of the same
shape (--labels, or TRACER_LABELS) adds entries or overrides shipped ones.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from eth_utils import is_checksum_address

from .errors import InputError, read_json
from .tokens import REGISTRY

SERVICE_CATEGORIES = frozenset({"exchange", "dex", "bridge", "mixer", "token", "service"})


@dataclass(frozen=True, slots=True)
class Label:
    address: str
    label: str
    category: str
    source: str
    code: str | None = None  # "contract" or "eoa" where the curator knows; None for imported labels
    decoder: str | None = None  # which exit decoder reads this contract's events (DECODERS)
    asset: str | None = None  # tornado-pool: "ETH" or the token's address
    denomination: int | None = None  # tornado-pool: one deposit, in the asset's base units


# decoder -> the category its contracts must carry (a decoder on a DEX label would be a curator's slip)
DECODERS = {"thorchain-router": "bridge", "maya-router": "bridge", "chainflip-vault": "bridge",
            "lifi-diamond": "bridge", "tornado-pool": "mixer", "tornado-entrance": "mixer"}
CODES = ("contract", "eoa")
_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")  # fullmatch: "0x…\n" is not an address
# what a curated label may call an address: the services a trace stops at, a token, or an annotation (shown, the
# trace goes on); a typo ("exchnage") would silently let a trace run through an exchange
LABEL_CATEGORIES = frozenset(SERVICE_CATEGORIES | {"annotation"})
_extra_path: str | None = None  # set by use_labels_file(); else TRACER_LABELS


def use_labels_file(path: str | None) -> None:
    """Add (or override) curated labels from a user's file of the shipped shape; None: back to TRACER_LABELS."""
    global _extra_path
    _extra_path = path
    curated_labels.cache_clear()
    if path:
        curated_labels()  # read and checked now: a bad file is one clear line before any work starts


def labels_file() -> str | None:
    return _extra_path or os.environ.get("TRACER_LABELS") or None


def parse_entries(entries: object, where: str) -> list[Label]:
    """Labels of a document in the shipped shape, every field checked (a wrong label misleads an investigation
    more quietly than a missing one): the address (EIP-55 where mixed-case), a name, a category, a source, and
    for a decoder the fields it needs."""
    if not isinstance(entries, list):
        raise InputError(f"{where}: expected {{\"labels\": [...]}}")
    out = []
    for n, entry in enumerate(entries, 1):
        at = f"{where}: label {n}"
        if not isinstance(entry, dict):
            raise InputError(f"{at}: expected an object")
        address = entry.get("address")
        bitcoin = _bitcoin_node(address)
        if bitcoin is None and (not isinstance(address, str) or not _HEX40.fullmatch(address)):
            raise InputError(f"{at}: address {address!r} is neither 0x followed by 40 hex digits nor a Bitcoin "
                             "address (its checksum checked)")
        body = address[2:]
        if bitcoin is None and body != body.lower() and body != body.upper() and not is_checksum_address(address):
            raise InputError(f"{at}: address {address} fails its EIP-55 checksum")
        if bitcoin is not None and (entry.get("code") is not None or entry.get("decoder") is not None):
            raise InputError(f"{at} ({address}): a Bitcoin address has no code and no decoder")
        for key in ("label", "category", "source"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise InputError(f"{at} ({address}): {key} is missing or empty (every label names its source)")
        if entry["category"].strip() not in LABEL_CATEGORIES:
            raise InputError(f"{at} ({address}): unknown category {entry['category']!r}; one of "
                             f"{', '.join(sorted(LABEL_CATEGORIES))}")
        code = entry.get("code")
        if code is not None and code not in CODES:
            raise InputError(f"{at} ({address}): code must be one of {', '.join(CODES)}")
        decoder = entry.get("decoder")
        asset, denomination = None, None
        if decoder is not None:
            if decoder not in DECODERS:
                raise InputError(f"{at} ({address}): unknown decoder {decoder!r}; known: {', '.join(DECODERS)}")
            if entry["category"] != DECODERS[decoder]:
                raise InputError(f"{at} ({address}): a {decoder} is labelled {DECODERS[decoder]!r}, "
                                 f"not {entry['category']!r}")
            if decoder == "tornado-pool":
                asset = entry.get("asset")
                raw = entry.get("denomination")
                if not (asset == "ETH" or isinstance(asset, str) and _HEX40.fullmatch(asset)):
                    raise InputError(f"{at} ({address}): a tornado-pool needs asset \"ETH\" or a token address")
                if not (isinstance(raw, str) and raw.isdigit() and int(raw) > 0):
                    raise InputError(f"{at} ({address}): a tornado-pool needs its denomination in base units, "
                                     "as a string of digits")
                asset, denomination = (asset if asset == "ETH" else asset.lower()), int(raw)
        addr = bitcoin or address.lower()
        out.append(Label(addr, entry["label"].strip(), entry["category"].strip(), entry["source"].strip(), code,
                         decoder, asset, denomination))
    return out


def _bitcoin_node(address: object) -> str | None:
    """`btc:<address>` for a Bitcoin address (written plain or as its node, checksum checked), else None."""
    if not isinstance(address, str) or address.startswith("0x"):
        return None
    from .btc import node_for

    return node_for(address.removeprefix("btc:"))


def _read_extra(path: str) -> list[tuple[Label, bool]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"labels file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"labels file {path}: not UTF-8 text") from None
    doc = read_json(text, f"labels file {path}: ")
    entries = doc.get("labels") if isinstance(doc, dict) else None
    labels = parse_entries(entries, f"labels file {path}")
    # an entry that overrides a shipped one without saying "decoder" keeps the shipped decoder (a relabelled
    # router still decodes); "decoder": null says it should not
    return [(label, isinstance(raw, dict) and "decoder" in raw) for label, raw in zip(labels, entries)]


@lru_cache(maxsize=1)
def curated_labels() -> dict[str, Label]:
    raw = json.loads(resources.files("tracer.data").joinpath("labels.json").read_text(encoding="utf-8"))
    out: dict[str, Label] = {}
    for label in parse_entries(raw["labels"], "data/labels.json"):
        out[label.address] = label
    extra = labels_file()
    if extra:
        for label, says_decoder in _read_extra(extra):
            shipped = out.get(label.address)
            if (shipped is not None and not says_decoder and shipped.decoder
                    and label.category == DECODERS[shipped.decoder]):
                label = Label(label.address, label.label, label.category, label.source, label.code or shipped.code,
                              shipped.decoder, shipped.asset, shipped.denomination)
            out[label.address] = label  # the user's own word wins over what shipped
    for token in REGISTRY.values():
        out.setdefault(token.address, Label(token.address, f"{token.name} ({token.symbol})", "token", token.source,
                                            "contract"))
    return out


def label_for(address: str) -> Label | None:
    # (a base58 Bitcoin address is case-sensitive: its node is looked up as written)
    return curated_labels().get(address if address.startswith("btc:") else address.lower())


def decoder_of(address: str) -> str | None:
    """Which exit decoder reads this contract's events, if the labels name one."""
    label = label_for(address)
    return label.decoder if label else None


def decoding(decoder: str) -> dict[str, Label]:
    """Every labelled contract a decoder reads, by address."""
    return {a: lab for a, lab in curated_labels().items() if lab.decoder == decoder}


def known_code(address: str) -> str | None:
    """Whether a curated address holds code ("contract": routers, pools, bridges, mixers, tokens) or not
    ("eoa": a hot wallet), so that exports and the tracer need no eth_getCode for it."""
    label = label_for(address)
    return label.code if label else None


def best_label(address: str, imported: list[tuple[str, str, str]] | None) -> Label | None:
    """Curated wins; else an imported label, a service one (exchange, bridge, ...) before an annotation."""
    curated = label_for(address)
    if curated or not imported:
        return curated
    ranked = sorted(imported, key=lambda lab: (lab[1] not in SERVICE_CATEGORIES, lab[2]))
    label, category, source = ranked[0]
    return Label(address, label, category, source)


def service_category(address: str, imported: list[tuple[str, str, str]] | None) -> str | None:
    """The service (exchange, bridge, mixer, ...) the current labels say this is, if any.

    Read wherever a decision is made (follow it? an exit?), never frozen at trace time: a
    label imported after an address was traced must change the answer exactly as if it had
    been there first.
    """
    label = best_label(address, imported)
    return label.category if label and label.category in SERVICE_CATEGORIES else None


def on_trail(address: str, followed: object, hop: int | None, imported: list[tuple[str, str, str]] | None) -> bool:
    """Part of the trail now: followed by a trace, and not labelled a service since (a seed always is)."""
    return bool(followed) and (hop == 0 or not service_category(address, imported))


def current_category(address: str, stored: str | None, imported: list[tuple[str, str, str]] | None) -> str | None:
    """The category decisions use now: a seed stays a seed; otherwise a service label, even one imported
    after the trace, wins over what the trace stored."""
    if stored == "seed":
        return stored
    return service_category(address, imported) or stored


def display_label(address: str, imported: list[tuple[str, str, str]] | None) -> tuple[str, str]:
    """(label, its source) to show: curated, then the seed file's attribution, then an imported one."""
    from .seeds import _index

    curated = label_for(address)
    if curated:
        return curated.label, curated.source
    seed = _index().get(address)
    if seed:
        return seed.label, "; ".join(s.name for s in seed.sources)
    found = best_label(address, imported)
    return (found.label, found.source) if found else ("", "")


def annotation_flags(imported: list[tuple[str, str, str]] | None) -> list[str]:
    """Flags that imported labels put on a node without stopping the trace."""
    flags = set()
    for _, category, _ in imported or ():
        if category == "sanctioned":
            flags.add("ofac-sanctioned")
        elif category in ("phishing", "malicious"):
            flags.add(category)
    return sorted(flags)
