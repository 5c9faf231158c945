"""Attributed-address lists from their publishers: read, validated per chain, quirks counted.

Bybit publishes the addresses of its LazarusBounty programme as one keyless JSON document,
`{"0221": {"eth": [...], "btc": [...], "bsc": [...], "arbi": [...], "solana": [...], "tron": [...]}}`,
keyed by the incident's date. It is maintained by hand and reads like it: entries in mixed case and
all-lowercase, stray whitespace, one entry holding two addresses separated by a space, duplicates. None
of that may stop a sync or silently change an address; each quirk is handled the one safe way and
counted, so that the analyst sees what the document looked like.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from .chain_addresses import check
from .errors import InputError, SourceError, read_json

LAZARUSBOUNTY_URL = "https://hackscan.hackbounty.io/public/hack-address.json"
INCIDENTS = {"0221": "bybit-2025-02"}  # the feed's incident key -> this project's case name
EVM_KEYS = ("eth", "bsc", "arbi")  # the feed's EVM chains (one address format; traced per chain)
VALIDATED = EVM_KEYS + ("btc", "tron", "solana")
MAX_BYTES = 50 * 1024 * 1024  # the real feed is ~1.4 MB; far past that is not the feed
_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")
_OPAQUE = re.compile(r"[A-Za-z0-9:._-]{1,200}")  # what an address of a chain we cannot check may look like


@dataclass(frozen=True)
class SyncedSeed:
    chain: str
    address: str
    case: str
    flags: frozenset[str] = frozenset()


@dataclass
class Parsed:
    seeds: list[SyncedSeed] = field(default_factory=list)
    quirks: Counter = field(default_factory=Counter)
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # (chain, text as written, why)

    def address_of(self, chain: str, text: str, supported: bool) -> tuple[str, frozenset[str]] | None:
        """`text` as a seed of `chain`, validated where the chain is one this tool checks, else kept as written
        if it is address-shaped (flagged unsupported-chain); None, and the entry listed in `rejected` (escaped:
        it reaches the terminal), otherwise."""
        if supported:
            checked = check(chain, text)
            if checked.address is None:
                self.rejected.append((chain, _escaped(text), checked.problem))
                return None
            if checked.flags:
                self.quirks["bad EIP-55 checksum (kept lowercased, flagged)"] += 1
            return checked.address, checked.flags
        if _OPAQUE.fullmatch(text):
            return text, frozenset({"unsupported-chain"})
        # kept out of the store and the terminal: not even address-shaped
        self.rejected.append((chain, _escaped(text), "not address-shaped (a chain this tool cannot check)"))
        return None

    def summary(self) -> dict:
        per_chain = Counter(s.chain for s in self.seeds)
        return {"seeds": len(self.seeds), "per_chain": dict(sorted(per_chain.items())),
                "quirks": dict(sorted(self.quirks.items())), "rejected": len(self.rejected)}


def case_for(incident: str) -> str:
    return INCIDENTS.get(incident, f"lazarusbounty-{incident}")


def parse_feed(raw: bytes) -> Parsed:
    """The seeds of a document in the LazarusBounty shape; raises InputError only for a document that is not
    that shape at all (not JSON, HTML, a list, no incident)."""
    text = _text(raw)
    doc = read_json(text, "", "; truncated, or not the feed")
    if not isinstance(doc, dict) or not doc or not all(isinstance(v, dict) for v in doc.values()):
        raise InputError('not the feed\'s shape: expected {"<incident>": {"eth": [...], "btc": [...], ...}}')
    out = Parsed()
    seen: set[tuple[str, str, str]] = set()
    addresses_seen: dict[str, set[str]] = {}
    for incident, chains in doc.items():
        if not _KEY.fullmatch(str(incident)):
            raise InputError(f"not the feed's shape: incident key {str(incident)[:40]!r} is not a short name")
        case = case_for(incident)
        for chain, entries in chains.items():
            chain = str(chain).strip().lower()
            if not _KEY.fullmatch(chain):
                out.quirks["bad chain key"] += 1
                continue
            if not isinstance(entries, list):
                out.quirks["chain list not a list"] += 1
                continue
            supported = chain in VALIDATED
            if not supported:
                out.quirks[f"unsupported chain {chain}"] += len(entries)
            for entry in entries:
                if not isinstance(entry, str):
                    out.quirks["entry not a string"] += 1
                    continue
                parts = entry.split()
                if not parts:
                    out.quirks["empty entry"] += 1
                    continue
                if len(parts) > 1:
                    out.quirks["entry holding several addresses"] += 1
                if entry != entry.strip() and len(parts) == 1:
                    out.quirks["whitespace around an address"] += 1
                for part in parts:
                    valid = out.address_of(chain, part, supported)
                    if valid is None:
                        continue
                    address, flags = valid
                    key = (case, chain, address)
                    if key in seen:
                        out.quirks["duplicate"] += 1
                        continue
                    seen.add(key)
                    chains_of = addresses_seen.setdefault(address, set())
                    if chains_of and chain not in chains_of:
                        out.quirks["same address under several chains"] += 1
                    chains_of.add(chain)
                    out.seeds.append(SyncedSeed(chain, address, case, flags))
    if not any(s.chain in VALIDATED for s in out.seeds):
        # an error object ({"error": {...}}) or an emptied list has this shape too: syncing it would mark every
        # address the source listed before as removed
        raise InputError("no address of a known chain in it: not the feed, or an empty one")
    return out


def fbi_seeds() -> Parsed:
    """The FBI PSA's 51 Ethereum addresses, from the bundled seed file (the PSA itself is an HTML page)."""
    from .seeds import all_seeds

    out = Parsed()
    for seed in all_seeds():
        if any(s.url and "ic3.gov" in s.url for s in seed.sources):
            out.seeds.append(SyncedSeed("eth", seed.key, seed.case))
    return out


def _escaped(text: str) -> str:
    return text[:100].encode("unicode_escape").decode("ascii")


def _text(raw: bytes) -> str:
    head = raw[:512].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<")):
        raise InputError("an HTML page, not the feed's JSON (a login wall, an error page or a moved URL?)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text") from None


@dataclass(frozen=True)
class Document:
    raw: bytes
    url: str
    sha256: str
    fetched_at: str


def read_document(location: str, timeout: float = 30.0, retries: int = 3, sleep=time.sleep) -> Document:
    """The document at a URL (keyless GET, retried on 429/5xx/connection errors with the server's wait) or a
    local path, at most MAX_BYTES. Errors are one line: InputError for a file, SourceError for a server."""
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    if urlsplit(location).scheme in ("http", "https"):
        raw = _download(location, timeout, retries, sleep)
        url = _public_url(location)
    else:
        path = Path(location)
        try:
            if path.stat().st_size > MAX_BYTES:
                raise InputError(f"{location}: larger than {MAX_BYTES // 2**20} MB; not the feed")
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{location}: {exc.strerror or exc}") from None
        url = path.resolve().as_uri()
    return Document(raw, url, hashlib.sha256(raw).hexdigest(), now)


def _public_url(url: str) -> str:
    """The URL as stored and shown: never its credentials or query (where keys live)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{netloc}{parts.path}"


def _download(url: str, timeout: float, retries: int, sleep) -> bytes:
    import requests

    from .sources.pacing import retry_pause
    from .sources.jsonrpc import redact_url as redact

    host = urlsplit(url).hostname or "?"
    problem = ""
    wait: float | None = None
    for attempt in range(retries + 1):
        if attempt:
            sleep(min(30.0, 2.0 * 2 ** (attempt - 1)) if wait is None else wait)
        wait = None
        try:
            with requests.get(url, timeout=timeout, stream=True, headers={"Accept": "application/json"}) as resp:
                if resp.status_code == 429 or resp.status_code >= 500:
                    wait = retry_pause(resp.headers)
                    problem = f"HTTP {resp.status_code}"
                    continue
                if resp.status_code != 200:
                    raise SourceError(f"{redact(url)} answered HTTP {resp.status_code}")
                chunks, size = [], 0
                for chunk in resp.iter_content(65536):
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise SourceError(f"{redact(url)}: the answer is larger than {MAX_BYTES // 2**20} MB; "
                                          "not the feed")
                    chunks.append(chunk)
                return b"".join(chunks)
        except requests.RequestException as exc:
            problem = type(exc).__name__
    raise SourceError(f"{host} failed {retries + 1} times ({problem}); nothing was changed, try again later")
