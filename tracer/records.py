"""Mapping explorer records (Etherscan API shape) to Transfers.

Explorer rows are untrusted input: every field is checked, and a row that
does not parse rejects the whole response rather than storing garbage.

Positions. Etherscan gives no log index for token transfers and only an
explorer-specific trace id for internal ones, and a transaction seen from
the sender's history and from the recipient's history shows different
subsets of its rows. A position must therefore depend only on the row's
own content: it is a digest of (token, from, to, amount) plus the
occurrence number among rows of the same transaction with that same
content (spam contracts emit identical events several times in one
transaction; both sides of each of them see all of them, so the count
agrees whichever history it came from).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import MalformedResponseError
from .models import ERC20, ETH, INTERNAL, NATIVE, ZERO_VALUE, Transfer, memo_from_input
from .tokens import lookup, token_flags

_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDR = re.compile(r"^0x[0-9a-fA-F]{40}$")
_UINT = re.compile(r"^[0-9]{1,78}$")

ACTION_KIND = {"txlist": NATIVE, "txlistinternal": INTERNAL, "tokentx": ERC20}


def _field(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise MalformedResponseError(f"explorer record lacks a text field {name!r}")
    return value


def _uint(row: Mapping[str, Any], name: str) -> int:
    value = _field(row, name).strip()
    if not _UINT.match(value):
        raise MalformedResponseError(f"explorer record has a non-integer {name}: {value[:40]!r}")
    return int(value)


def _addr(row: Mapping[str, Any], name: str, allow_empty: bool = False) -> str:
    value = _field(row, name).strip().lower()
    if allow_empty and value == "":
        return ""
    if not _ADDR.match(value):
        raise MalformedResponseError(f"explorer record has an invalid address in {name}: {value[:50]!r}")
    return value


def _hash(row: Mapping[str, Any]) -> str:
    value = _field(row, "hash").strip().lower()
    if not _HASH.match(value):
        raise MalformedResponseError(f"explorer record has an invalid transaction hash: {value[:70]!r}")
    return value


def content_digest(token: str, from_addr: str, to_addr: str, amount: int) -> str:
    return hashlib.sha256(f"{token}|{from_addr}|{to_addr}|{amount}".encode()).hexdigest()[:12]


def assign_positions(transfers: Iterable[Transfer]) -> list[Transfer]:
    """Give content-derived positions to internal/erc20 transfers (native keep "0")."""
    seen: Counter[tuple[str, str, str]] = Counter()
    out = []
    for t in transfers:
        if t.kind == NATIVE:
            out.append(t)
            continue
        digest = content_digest(t.token, t.from_addr, t.to_addr, t.amount)
        n = seen[(t.tx_hash, t.kind, digest)]
        seen[(t.tx_hash, t.kind, digest)] += 1
        out.append(_replace_position(t, f"{digest}.{n}"))
    return out


def _replace_position(t: Transfer, position: str) -> Transfer:
    from dataclasses import replace

    return replace(t, position=position)


def parse_rows(action: str, rows: list[Any]) -> list[Transfer]:
    """Rows of one complete fetch (whole blocks) -> Transfers with stable identities.

    Failed transactions and zero-value native/internal calls move no value
    and are dropped; zero-value token transfers are kept and flagged,
    because they are the poisoner's tool and the analyst wants to see them.
    """
    kind = ACTION_KIND[action]
    parsed: list[Transfer] = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise MalformedResponseError(f"explorer {action} result holds a {type(row).__name__}, not a record")
        if row.get("isError", "0") not in ("0", "", None):
            continue
        if kind == NATIVE and row.get("txreceipt_status") == "0":
            continue
        tx_hash = _hash(row)
        block = _uint(row, "blockNumber")
        timestamp = _uint(row, "timeStamp")
        from_addr = _addr(row, "from")
        to_addr = _addr(row, "to", allow_empty=True) or _addr(row, "contractAddress", allow_empty=True)
        if not to_addr:
            raise MalformedResponseError(f"explorer record {tx_hash} has neither a recipient nor a created contract")
        amount = _uint(row, "value")
        log_index = None
        memo = memo_from_input(row.get("input")) if kind == NATIVE else None
        if kind == ERC20:
            token = _addr(row, "contractAddress")
            registered = lookup(token)
            symbol = str(row.get("tokenSymbol") or "")
            if registered:
                asset, decimals = registered.symbol, registered.decimals
            else:
                asset = symbol
                dec_text = str(row.get("tokenDecimal") or "0")
                decimals = int(dec_text) if dec_text.isdigit() and int(dec_text) <= 255 else 0
            flags = set(token_flags(token, symbol))
            if amount == 0:
                flags.add(ZERO_VALUE)
            li = row.get("logIndex")
            if isinstance(li, str) and li.isdigit():
                log_index = int(li)
        else:
            if amount == 0:
                continue
            token, asset, decimals, flags = ETH, ETH, 18, set()
        parsed.append(
            Transfer(
                tx_hash=tx_hash,
                kind=kind,
                position="0",
                block=block,
                timestamp=timestamp,
                from_addr=from_addr,
                to_addr=to_addr,
                token=token,
                asset=asset,
                decimals=decimals,
                amount=amount,
                flags=frozenset(flags),
                log_index=log_index,
                memo=memo,
            )
        )
    return assign_positions(parsed)
