"""Curated labels for known services, each with the source that names it.

A trace must stop at services (a DEX router does not "own" the stolen
ETH it routes) and an analyst must be able to check every label, so each
entry in data/labels.json names where the attribution comes from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .tokens import REGISTRY

SERVICE_CATEGORIES = frozenset({"exchange", "dex", "bridge", "mixer", "token", "service"})


@dataclass(frozen=True, slots=True)
class Label:
    address: str
    label: str
    category: str
    source: str
    code: str | None = None  # "contract" or "eoa" where the curator knows; None for imported labels


@lru_cache(maxsize=1)
def curated_labels() -> dict[str, Label]:
    raw = json.loads(resources.files("tracer.data").joinpath("labels.json").read_text(encoding="utf-8"))
    out: dict[str, Label] = {}
    for entry in raw["labels"]:
        addr = entry["address"].lower()
        out[addr] = Label(addr, entry["label"], entry["category"], entry["source"], entry.get("code"))
    for token in REGISTRY.values():
        out.setdefault(token.address, Label(token.address, f"{token.name} ({token.symbol})", "token", token.source,
                                            "contract"))
    return out


def label_for(address: str) -> Label | None:
    return curated_labels().get(address.lower())


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
