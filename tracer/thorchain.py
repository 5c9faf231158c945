"""THORChain (and MAYAChain) memos: where a cross-chain swap sends the money.

A swap memo is `SWAP:ASSET:DESTADDR[/REFUND]:LIMIT[/INTERVAL/QUANTITY]:AFFILIATE:FEE`,
with `s` or `=` for SWAP, short asset codes (`b` = BTC.BTC, ...), assets as
CHAIN.SYMBOL[-CONTRACT] (or CHAIN/SYMBOL synths, CHAIN~SYMBOL trade assets,
which live on THORChain itself), and limits possibly in scientific notation.
Memos are written by whoever sends the deposit, so anything may come in:
parse_memo returns a value or raises MemoError, never anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

SHORT_ASSETS = {
    "b": "BTC.BTC", "e": "ETH.ETH", "r": "THOR.RUNE", "d": "DOGE.DOGE", "l": "LTC.LTC", "c": "BCH.BCH",
    "s": "BSC.BNB", "a": "AVAX.AVAX", "g": "GAIA.ATOM", "x": "XRP.XRP", "f": "BASE.ETH", "tr": "TRON.TRX",
}
SWAP_ACTIONS = {"swap", "s", "="}
OTHER_ACTIONS = {
    "+": "add", "add": "add", "a": "add", "-": "withdraw", "wd": "withdraw", "withdraw": "withdraw",
    "out": "out", "refund": "refund", "bond": "bond", "unbond": "unbond", "leave": "leave",
    "donate": "donate", "d": "donate", "loan+": "loan-open", "loan-": "loan-close", "trade+": "trade-deposit",
    "trade-": "trade-withdraw", "pool+": "pool-deposit", "pool-": "pool-withdraw", "~": "thorname", "n": "thorname",
    "name": "thorname", "reserve": "reserve", "noop": "noop", "migrate": "migrate", "ragnarok": "ragnarok",
    "yggdrasil+": "yggdrasil", "yggdrasil-": "yggdrasil", "consolidate": "consolidate",
}
_ASSET = re.compile(r"^([A-Za-z0-9]+)([./~])([A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?$")
_TEXT = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


class MemoError(ValueError):
    """The memo is not a well-formed THORChain memo; the raw text is kept and flagged."""


@dataclass(frozen=True)
class Memo:
    action: str  # swap, add, withdraw, ...
    raw: str
    asset: str = ""  # canonical CHAIN.SYMBOL[-CONTRACT]
    chain: str = ""  # where the destination lives (THOR for synths and trade assets)
    dest_address: str = ""
    refund_address: str = ""
    limit: int | None = None
    interval: int | None = None
    quantity: int | None = None
    affiliates: tuple[str, ...] = ()
    fees_bps: tuple[int, ...] = ()

    @property
    def is_swap(self) -> bool:
        return self.action == "swap"


def parse_asset(text: str) -> tuple[str, str]:
    """(canonical asset, chain of the destination) for a memo's asset field."""
    short = SHORT_ASSETS.get(text.lower())
    if short:
        return short, short.split(".")[0]
    m = _ASSET.match(text)
    if not m:
        raise MemoError(f"unknown asset {text[:40]!r}")
    chain, sep, symbol, contract = m.group(1).upper(), m.group(2), m.group(3).upper(), m.group(4)
    asset = f"{chain}{sep}{symbol}" + (f"-{contract.upper() if not contract.lower().startswith('0x') else contract.lower()}"
                                      if contract else "")
    return asset, ("THOR" if sep in "/~" else chain)


def _uint(text: str, what: str) -> int:
    if text == "":
        return 0
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise MemoError(f"{what} is not a number: {text[:30]!r}") from None
    if not value.is_finite() or value < 0 or value != value.to_integral_value() or value > Decimal(2) ** 256:
        raise MemoError(f"{what} is not a whole non-negative amount: {text[:30]!r}")
    return int(value)


def parse_memo(memo: str) -> Memo:
    if not isinstance(memo, str) or not memo.strip():
        raise MemoError("empty memo")
    raw = memo.strip()
    if len(raw) > 500 or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        raise MemoError("memo has control characters or is too long")
    parts = raw.split(":")
    action = parts[0].lower()
    if action not in SWAP_ACTIONS:
        if action in OTHER_ACTIONS:
            return Memo(action=OTHER_ACTIONS[action], raw=raw)
        raise MemoError(f"unknown memo action {parts[0][:20]!r}")
    if len(parts) < 3 or not parts[1] or not parts[2]:
        raise MemoError("a swap memo needs an asset and a destination")
    if len(parts) > 6:
        raise MemoError("too many memo fields")
    asset, chain = parse_asset(parts[1])
    dest, _, refund = parts[2].partition("/")
    for addr, what in ((dest, "destination"), (refund, "refund address")):
        if addr and not _TEXT.match(addr):
            raise MemoError(f"{what} has invalid characters")
    limit = interval = quantity = None
    if len(parts) > 3 and parts[3]:
        pieces = parts[3].split("/")
        if len(pieces) not in (1, 3):
            raise MemoError("limit must be LIMIT or LIMIT/INTERVAL/QUANTITY")
        limit = _uint(pieces[0], "limit")
        if len(pieces) == 3:
            interval, quantity = _uint(pieces[1], "interval"), _uint(pieces[2], "quantity")
    affiliates: tuple[str, ...] = ()
    fees: tuple[int, ...] = ()
    if len(parts) > 4 and parts[4]:
        affiliates = tuple(parts[4].split("/"))
        if not all(a and _TEXT.match(a) for a in affiliates):
            raise MemoError("affiliate has invalid characters")
    if len(parts) > 5 and parts[5]:
        fees = tuple(_uint(f, "affiliate fee") for f in parts[5].split("/"))
        if any(f > 10_000 for f in fees):
            raise MemoError("affiliate fee above 10000 basis points")
    return Memo(action="swap", raw=raw, asset=asset, chain=chain, dest_address=dest, refund_address=refund,
                limit=limit, interval=interval, quantity=quantity, affiliates=affiliates, fees_bps=fees)


def looks_like_memo(text: str) -> bool:
    """Cheap test for text carried in a plain ETH transfer's input."""
    head = text.split(":", 1)[0].lower()
    return ":" in text and (head in SWAP_ACTIONS or head in OTHER_ACTIONS)
