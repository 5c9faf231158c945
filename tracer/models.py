"""The domain: what a transfer is, independently of the source that reported it."""

from __future__ import annotations

from dataclasses import dataclass, field

NATIVE = "native"
INTERNAL = "internal"
ERC20 = "erc20"
KINDS = (NATIVE, INTERNAL, ERC20)

ETH = "ETH"

# Transfer flags. The first three are intrinsic to the record; lookalike
# depends on the address's other counterparties and is computed by the store.
ZERO_VALUE = "zero-value"
UNVERIFIED_TOKEN = "unverified-token"
COUNTERFEIT = "counterfeit"
LOOKALIKE = "lookalike"
POISON_FLAGS = frozenset({ZERO_VALUE, UNVERIFIED_TOKEN, COUNTERFEIT, LOOKALIKE})


@dataclass(frozen=True, slots=True)
class Transfer:
    """One movement of value, identified by (tx_hash, kind, position).

    The identity must come out the same whichever source reported the
    transfer and from whichever side (sender's or recipient's history) it
    was seen, so that reruns and a second source never duplicate it. See
    records.assign_positions for how position is made deterministic.
    """

    tx_hash: str
    kind: str
    position: str
    block: int
    timestamp: int
    from_addr: str
    to_addr: str
    token: str  # "ETH" or the token contract, lowercase
    asset: str  # symbol as reported (untrusted text for tokens)
    decimals: int
    amount: int  # exact base units (wei for ETH)
    flags: frozenset[str] = field(default_factory=frozenset)
    log_index: int | None = None
    memo: str | None = None  # text the transaction carried (a THORChain memo to a vault); untrusted


    @property
    def key(self) -> str:
        return f"{self.tx_hash}:{self.kind}:{self.position}"

    @property
    def is_poison(self) -> bool:
        return bool(self.flags & POISON_FLAGS)


def memo_from_input(data: str | None) -> str | None:
    """The input of a plain ETH transfer, if it is a short printable text rather than calldata.

    THORChain vault deposits carry their memo this way ("=:BTC.BTC:bc1q…").
    """
    if not data or not isinstance(data, str) or not data.startswith("0x") or len(data) < 8 or len(data) > 1002:
        return None
    try:
        raw = bytes.fromhex(data[2:])
        text = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    if not text.isprintable() or ":" not in text:
        return None
    return text


def format_amount(amount: int, decimals: int) -> str:
    """Exact decimal rendering of base units, for display only."""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if decimals <= 0:
        return f"{sign}{amount}"
    whole, frac = divmod(amount, 10**decimals)
    frac_text = str(frac).rjust(decimals, "0").rstrip("0")
    return f"{sign}{whole}.{frac_text}" if frac_text else f"{sign}{whole}"


def to_float(amount: int, decimals: int) -> float:
    """Whole-token float, only for weights and display; never used for arithmetic."""
    whole, frac = divmod(amount, 10**decimals) if decimals > 0 else (amount, 0)
    return float(whole) + (frac / 10**decimals if decimals > 0 else 0.0)


def parse_eth_amount(text: str) -> int:
    """'0.5' ETH -> wei, exactly (no float on the way)."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"must be a non-negative amount: {text!r}")
    if value.adjusted() > 40:  # more ether than exists by far; and a 400,000-digit integer is not an amount
        raise ValueError(f"too large: {text[:40]!r}")
    wei = value * (10**18)
    if wei != wei.to_integral_value():
        raise ValueError(f"more precise than 1 wei: {text!r}")
    return int(wei)
