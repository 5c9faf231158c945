"""Canonical tokens, by exact contract address.

Symbols are chosen by whoever deploys a contract, so a symbol proves
nothing: poisoners deploy tokens called "ETH", "stETH" or "stЕTH" (with a
Cyrillic Е) and emit fake Transfer events from a victim. Only the contract
address identifies a token. The registry lists the ones we trust; anything
else is unverified, and anything that imitates a registered symbol is
counterfeit.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from .models import COUNTERFEIT, ETH, UNVERIFIED_TOKEN


@dataclass(frozen=True, slots=True)
class Token:
    address: str
    symbol: str
    decimals: int
    name: str
    # ETH-pegged or ETH-backed: counted 1:1 as ETH for the dust threshold.
    # Liquid-staking tokens trade near (or, like wstETH, somewhat above) 1 ETH;
    # the threshold is a filter, not a valuation, so 1:1 is good enough.
    eth_equivalent: bool
    source: str


_SRC = "token contract as listed by its issuer; verified on Etherscan"

REGISTRY: dict[str, Token] = {
    t.address: t
    for t in (
        Token("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "WETH", 18, "Wrapped Ether", True, _SRC),
        Token("0xdac17f958d2ee523a2206206994597c13d831ec7", "USDT", 6, "Tether USD", False, _SRC),
        Token("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", "USDC", 6, "USD Coin", False, _SRC),
        Token("0x6b175474e89094c44da98b954eedeac495271d0f", "DAI", 18, "Dai Stablecoin", False, _SRC),
        Token("0xae7ab96520de3a18e5e111b5eaab095312d7fe84", "stETH", 18, "Lido staked Ether", True, _SRC),
        Token("0x7f39c581f595b53c5cb19bd0b3f8da6c935e2ca0", "wstETH", 18, "Lido wrapped staked Ether", True, _SRC),
        Token("0xd5f7838f5c461feff7fe49ea5ebaf7728bb0adfa", "mETH", 18, "Mantle staked Ether", True, _SRC),
        Token("0xe6829d9a7ee3040e1276fa75293bde931859e8fa", "cmETH", 18, "Mantle restaked Ether", True, _SRC),
        Token("0x2260fac5e5542a773aa44fbcfedf7c193bc2c599", "WBTC", 8, "Wrapped BTC", False, _SRC),
    )
}

# Letters from other scripts that render like Latin ones in common fonts.
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
        "С": "C", "Т": "T", "Х": "X", "У": "Y", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D",
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s",
        "і": "i", "ј": "j", "т": "t", "н": "h", "м": "m", "к": "k", "в": "b", "ԁ": "d",
        # Greek
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ν": "v",
        "τ": "t", "ε": "e", "ι": "i", "κ": "k", "ρ": "p", "υ": "u",
    }
)

_REGISTERED_SKELETONS = {t.symbol.upper() for t in REGISTRY.values()} | {ETH}


def skeleton(symbol: str) -> str:
    """What a symbol looks like to a reader: look-alikes folded to Latin, decoration dropped."""
    folded = unicodedata.normalize("NFKC", symbol).translate(_CONFUSABLES)
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum()).upper()


def has_foreign_letters(symbol: str) -> bool:
    """True when a symbol uses non-ASCII letters: on a token list, a disguise."""
    return any(ch.isalpha() and not ch.isascii() for ch in symbol)


def lookup(contract: str) -> Token | None:
    return REGISTRY.get(contract.lower())


def wei_equivalent(token: str, amount: int) -> int | None:
    """An amount of ETH or of an ETH-pegged token (stETH, WETH, …) in wei; None for any other token, which
    has no common measure with ETH here (no prices)."""
    if token == ETH:
        return amount
    known = lookup(token)
    if known is None or not known.eth_equivalent:
        return None
    return amount * 10 ** (18 - known.decimals)


def token_flags(contract: str, symbol: str) -> frozenset[str]:
    """Flags a token carries by itself: none if registered, else counterfeit or unverified."""
    if contract.lower() in REGISTRY:
        return frozenset()
    if has_foreign_letters(symbol) or skeleton(symbol) in _REGISTERED_SKELETONS:
        return frozenset({COUNTERFEIT})
    return frozenset({UNVERIFIED_TOKEN})
