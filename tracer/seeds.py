"""Publicly attributed addresses to start from (data/seed_addresses.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .errors import InputError

ROLES = ("victim", "theft", "laundering", "exploit-tooling")


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    url: str | None
    date: str | None


@dataclass(frozen=True, slots=True)
class Seed:
    address: str  # EIP-55, as published
    label: str
    role: str
    case: str
    attribution: str
    sources: tuple[Source, ...]

    @property
    def key(self) -> str:
        return self.address.lower()


@lru_cache(maxsize=1)
def _document() -> dict:
    return json.loads(resources.files("tracer.data").joinpath("seed_addresses.json").read_text(encoding="utf-8"))


def cases() -> dict[str, dict]:
    return dict(_document()["cases"])


@lru_cache(maxsize=1)
def _seeds() -> tuple[Seed, ...]:
    return tuple(
        Seed(
            address=e["address"],
            label=e["label"],
            role=e["role"],
            case=e["case"],
            attribution=e["attribution"],
            sources=tuple(Source(s["name"], s.get("url"), s.get("date")) for s in e["sources"]),
        )
        for e in _document()["addresses"]
    )


def all_seeds() -> list[Seed]:
    return list(_seeds())


def seeds_for_case(case: str) -> list[Seed]:
    known = cases()
    if case not in known:
        raise InputError(f"unknown case {case!r}; known cases: {', '.join(sorted(known))}")
    return [s for s in all_seeds() if s.case == case]


def trace_starts_for_case(case: str) -> list[Seed]:
    """Where a case's trace starts: the theft and laundering addresses, not the victim or tooling."""
    return [s for s in seeds_for_case(case) if s.role in ("theft", "laundering")]


@lru_cache(maxsize=1)
def _index() -> dict[str, Seed]:
    return {s.key: s for s in _seeds()}


def seed_index() -> dict[str, Seed]:
    return dict(_index())
