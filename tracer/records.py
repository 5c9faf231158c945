"""Mapping explorer records (Etherscan API shape) to Transfers.

Explorer rows are untrusted input: every field is checked. A row that does
not pass is skipped and reported as a RejectedRecord (who, which list,
which transaction, why); the rest of the answer is kept. Only an answer
that is not a list of rows at all is refused whole (the explorer client
raises MalformedResponseError for that, and its retry policy applies).

What a row must be to become a Transfer (anything else is rejected):

- a JSON object;
- isError "0"/""/absent (txlist, txlistinternal) and txreceipt_status
  "1"/""/absent (txlist); "1" resp. "0" mean a failed transaction, which
  moved nothing and is dropped, not rejected; any other value is rejected;
- hash (or Blockscout's transactionHash for internal rows): 0x + 64 hex;
- blockNumber: a decimal integer below 2**63; timeStamp: a decimal integer
  no later than year 9999 (what a report can still show as a date);
- value: a non-negative decimal integer of at most 78 digits and at most
  2**256 - 1 (a uint256);
- from: 0x + 40 hex; to: 0x + 40 hex, or empty/null for a contract
  creation whose contractAddress is one (txlist, txlistinternal only); for
  tokentx, contractAddress (the token) must be an address too;
- blockNumber inside the block range asked for, when one is given;
- the queried address, when one is given, on one side: from or to (or the
  created contractAddress of a creation); for tokentx, from or to.

Lenient on purpose: text fields (tokenSymbol) that are not text become ""
(or the number's digits), a logIndex that is not a small integer is None,
and a tokenDecimal that is not an integer 0..255 gives decimals 0 (as
before): the transfer and its amount are real, only its display scale is
unknown, and tokens outside the registry are unverified anyway.

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
from dataclasses import dataclass
from typing import Any

from .models import ERC20, ETH, INTERNAL, NATIVE, ZERO_VALUE, Transfer, memo_from_input
from .tokens import lookup, token_flags

_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_ADDR = re.compile(r"0x[0-9a-fA-F]{40}")
_DIGITS = re.compile(r"[0-9]+")

ACTION_KIND = {"txlist": NATIVE, "txlistinternal": INTERNAL, "tokentx": ERC20}

MAX_UINT256 = 2**256 - 1
MAX_BLOCK = 2**63 - 1  # what SQLite's INTEGER holds
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime can show
MAX_LOG_INDEX = 2**31 - 1
REASON_LIMIT = 120


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """One record a source skipped as malformed or out of place, and why.

    Every field is safe to print as-is: hashes and addresses are ours
    (lower-case hex or ""), the reason is one printable ASCII line of at
    most REASON_LIMIT characters whose quotes of the record are escaped.
    """

    address: str  # the address whose history was asked for ("" when unknown)
    action: str  # txlist / txlistinternal / tokentx (or the node's history: rpc-logs, rpc-traces, rpc-blocks)
    tx_hash: str  # the record's transaction, lower-case 0x + 64 hex, or "" when unreadable
    block: int | None  # its block when readable (even when out of range), else None
    reason: str  # short, printable, bounded

    def describe(self) -> str:
        """One line for a warning: "txlist of 0xab…: tx 0x12… (block 5): value is negative"."""
        block = "?" if self.block is None else str(self.block)
        return (f"{self.action} of {self.address or '?'}: tx {self.tx_hash or '?'} (block {block}): "
                f"{self.reason}")


class _Reject(Exception):
    """A row fails a rule; the message is the (already bounded, printable) reason."""


def clean_reason(text: str) -> str:
    """One printable ASCII line, at most REASON_LIMIT characters."""
    flat = " ".join(str(text).split())
    flat = flat.encode("ascii", "backslashreplace").decode("ascii")
    flat = "".join(ch if ch.isprintable() else "?" for ch in flat)
    return flat if len(flat) <= REASON_LIMIT else flat[: REASON_LIMIT - 3] + "..."


def _show(value: Any) -> str:
    """A short, escaped quote of a hostile value for a reason."""
    if isinstance(value, str):
        return ascii(value[:24] + ("..." if len(value) > 24 else ""))
    return _json_type(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__


def _present(row: Mapping[str, Any], name: str) -> Any:
    if name not in row or row[name] is None:
        raise _Reject(f"missing {name}")
    return row[name]


def _uint_value(value: Any, limit: int) -> int | str:
    """A non-negative decimal integer (text, or a JSON integer) up to limit, else why not."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            return "is negative"
        return value if value <= limit else "is too large"
    if not isinstance(value, str):
        return f"is not a decimal integer: {_show(value)}"
    text = value.strip()
    if text.startswith("-") and _DIGITS.fullmatch(text[1:]):
        return "is negative"
    if not _DIGITS.fullmatch(text):
        return f"is not a decimal integer: {_show(value)}"
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(limit)) or int(significant) > limit:
        return f"is too large ({len(significant)} digits)"
    return int(significant)


def _uint(row: Mapping[str, Any], name: str, limit: int) -> int:
    value = _uint_value(_present(row, name), limit)
    if isinstance(value, str):
        raise _Reject(f"{name} {value}")
    return value


def read_block(row: Any) -> int | None:
    """A row's blockNumber when it is a readable decimal block number, else None (never raises)."""
    if not isinstance(row, Mapping):
        return None
    try:
        return _uint(row, "blockNumber", MAX_BLOCK)
    except _Reject:
        return None


def _addr(row: Mapping[str, Any], name: str, allow_empty: bool = False) -> str:
    value = row.get(name) if allow_empty else _present(row, name)
    if allow_empty and (value is None or value == ""):
        return ""
    if not isinstance(value, str):
        raise _Reject(f"{name} is not an address: {_show(value)}")
    text = value.strip().lower()
    if allow_empty and text == "":
        return ""
    if not _ADDR.fullmatch(text):
        raise _Reject(f"{name} is not an address: {_show(value)}")
    return text


def _hash_value(row: Mapping[str, Any]) -> Any:
    # Blockscout's txlistinternal names the parent transaction transactionHash, not hash.
    if row.get("hash") is None and row.get("transactionHash") is not None:
        return row["transactionHash"]
    return row.get("hash")


def _hash(row: Mapping[str, Any]) -> str:
    value = _hash_value(row)
    if value is None:
        raise _Reject("missing hash")
    if not isinstance(value, str) or not _HASH.fullmatch(value.strip()):
        raise _Reject(f"hash is not a transaction hash: {_show(value)}")
    return value.strip().lower()


def _readable_hash(row: Any) -> str:
    if not isinstance(row, Mapping):
        return ""
    try:
        return _hash(row)
    except _Reject:
        return ""


def _text(value: Any) -> str:
    """Untrusted display text: a string as is, a number as its digits, anything else empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def _small_uint(value: Any, limit: int) -> int | None:
    found = _uint_value(value, limit)
    return None if isinstance(found, str) else found


def _failed(kind: str, row: Mapping[str, Any]) -> bool:
    """Did the row's transaction fail? Raises _Reject for a flag that is neither yes nor no."""
    if kind == ERC20:
        return False
    is_error = _flag(row.get("isError"))
    if is_error not in ("0", "", "1"):
        raise _Reject(f"isError is not 0 or 1: {_show(row.get('isError'))}")
    if is_error == "1":
        return True
    if kind == NATIVE:
        status = _flag(row.get("txreceipt_status"))
        if status not in ("1", "", "0"):
            raise _Reject(f"txreceipt_status is not 0 or 1: {_show(row.get('txreceipt_status'))}")
        return status == "0"
    return False


def _flag(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class _Checked:
    tx_hash: str
    block: int
    timestamp: int
    from_addr: str
    to_addr: str
    amount: int
    token: str | None  # the token contract (tokentx)


def _check(kind: str, row: Mapping[str, Any], address: str | None, start: int | None, end: int | None) -> _Checked:
    """Every rule but the failed-transaction one; raises _Reject with the first rule broken."""
    tx_hash = _hash(row)
    block = _uint(row, "blockNumber", MAX_BLOCK)
    timestamp = _uint(row, "timeStamp", MAX_TIMESTAMP)
    from_addr = _addr(row, "from")
    token = None
    if "to" not in row:
        raise _Reject("missing to")
    if kind == ERC20:
        to_addr = _addr(row, "to")
        token = _addr(row, "contractAddress")
        sides = {from_addr, to_addr}
    else:
        to_addr = _addr(row, "to", allow_empty=True)
        sides = {from_addr, to_addr}
        if not to_addr:
            to_addr = _addr(row, "contractAddress", allow_empty=True)
            if not to_addr:
                raise _Reject("neither a recipient (to) nor a created contract (contractAddress)")
            sides.add(to_addr)
    amount = _uint(row, "value", MAX_UINT256)
    if (start is not None and block < start) or (end is not None and block > end):
        lo = "" if start is None else str(start)
        hi = "" if end is None else str(end)
        raise _Reject(f"block {block} is outside the blocks asked for ({lo}..{hi})")
    if address is not None and address.lower() not in sides:
        raise _Reject("neither side is the address asked for")
    return _Checked(tx_hash, block, timestamp, from_addr, to_addr, amount, token)


def row_problem(action: str, row: Any, address: str | None = None, start: int | None = None,
                end: int | None = None) -> str | None:
    """Why a row would be rejected, or None when it is well-formed (failed or not)."""
    if not isinstance(row, Mapping):
        return f"not a JSON object ({_json_type(row)})"
    kind = ACTION_KIND[action]
    try:
        _failed(kind, row)
        _check(kind, row, address, start, end)
    except _Reject as exc:
        return str(exc)
    return None


def rejected_record(action: str, row: Any, address: str | None, reason: str) -> RejectedRecord:
    """A RejectedRecord for a row, its hash and block read as far as they can be."""
    return RejectedRecord(
        address=(address or "").lower(),
        action=action,
        tx_hash=_readable_hash(row),
        block=read_block(row),
        reason=clean_reason(reason),
    )


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


def parse_rows(action: str, rows: list[Any], address: str | None = None, start: int | None = None,
               end: int | None = None, rejected: list[RejectedRecord] | None = None) -> list[Transfer]:
    """Rows of one complete fetch (whole blocks) -> Transfers with stable identities.

    `address`, `start` and `end` are what was asked for (the history of
    `address` in blocks [start, end]); a row outside them is rejected, as is
    a malformed one (see the module docstring). Each rejected row is
    appended to `rejected` (when given) and never stops the others.

    Failed transactions and zero-value native/internal calls move no value
    and are dropped; zero-value token transfers are kept and flagged,
    because they are the poisoner's tool and the analyst wants to see them.
    """
    kind = ACTION_KIND[action]
    parsed: list[Transfer] = []
    for row in rows:
        if not isinstance(row, Mapping):
            if rejected is not None:
                rejected.append(rejected_record(action, row, address, f"not a JSON object ({_json_type(row)})"))
            continue
        try:
            if _failed(kind, row):
                continue
            checked = _check(kind, row, address, start, end)
        except _Reject as exc:
            if rejected is not None:
                rejected.append(rejected_record(action, row, address, str(exc)))
            continue
        amount = checked.amount
        log_index = None
        memo = memo_from_input(row.get("input")) if kind == NATIVE else None
        if kind == ERC20:
            token = checked.token or ""
            registered = lookup(token)
            symbol = _text(row.get("tokenSymbol"))
            if registered:
                asset, decimals = registered.symbol, registered.decimals
            else:
                asset = symbol
                decimals = _small_uint(row.get("tokenDecimal"), 255) or 0
            flags = set(token_flags(token, symbol))
            if amount == 0:
                flags.add(ZERO_VALUE)
            log_index = _small_uint(row.get("logIndex"), MAX_LOG_INDEX)
        else:
            if amount == 0:
                continue
            token, asset, decimals, flags = ETH, ETH, 18, set()
        parsed.append(
            Transfer(
                tx_hash=checked.tx_hash,
                kind=kind,
                position="0",
                block=checked.block,
                timestamp=checked.timestamp,
                from_addr=checked.from_addr,
                to_addr=checked.to_addr,
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
