"""Is this string an address of that chain? For attributed-address feeds, which mix chains and typos.

Each check is the chain's own encoding rule, not a regular expression: Bitcoin's base58check (P2PKH
`1…`, P2SH `3…`) and bech32 / bech32m (BIP-173 for segwit v0 `bc1q…`, BIP-350 for v1+ `bc1p…`), Tron's
base58check with its 0x41 prefix (`T…`), Solana's 32-byte base58 keys, Ethereum's EIP-55 checksum. A
mixed-case Ethereum address whose checksum fails is a typo or a tampered copy: it is kept lowercased
and flagged `bad-checksum`, never silently "fixed" into a different reading.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from eth_utils import is_checksum_address

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST, _BECH32M_CONST = 1, 0x2BC830A3
_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")  # fullmatch: a trailing newline is not part of an address

CHAINS = ("eth", "btc", "tron", "solana")  # validated here; EVM side chains (bsc, arbi) use the eth rule


@dataclass(frozen=True)
class Checked:
    """An address as stored: `address` normalised for its chain (EVM lowercased, the rest as written), or
    None when the string is not an address of that chain; `flags` (bad-checksum) and why it failed."""
    address: str | None
    flags: frozenset[str] = frozenset()
    problem: str = ""


def b58decode(text: str) -> bytes | None:
    n = 0
    for ch in text:
        value = _B58_INDEX.get(ch)
        if value is None:
            return None
        n = n * 58 + value
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def b58check(text: str) -> bytes | None:
    """The payload of a base58check string (version byte included), or None if the checksum fails."""
    raw = b58decode(text)
    if raw is None or len(raw) < 5:
        return None
    payload, check = raw[:-4], raw[-4:]
    return payload if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == check else None


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def _convertbits(data: list[int], frombits: int, tobits: int) -> list[int] | None:
    acc = bits = 0
    out = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None  # padding must be zero and shorter than a group
    return out


def segwit_decode(hrp: str, address: str) -> tuple[int, bytes] | None:
    """(witness version, program) of a segwit address, checked by BIP-173 (v0) or BIP-350 (v1+) rules."""
    if address.lower() != address and address.upper() != address:
        return None  # mixed case is invalid bech32
    address = address.lower()
    pos = address.rfind("1")
    if pos < 1 or pos + 7 > len(address) or len(address) > 90 or address[:pos] != hrp:
        return None
    data = [_BECH32.find(c) for c in address[pos + 1:]]
    if -1 in data:
        return None
    const = _polymod([ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data)
    if const not in (_BECH32_CONST, _BECH32M_CONST):
        return None
    version, words = data[0], data[1:-6]
    program = _convertbits(words, 5, 8)
    if program is None or version > 16 or not 2 <= len(program) <= 40:
        return None
    if version == 0 and (len(program) not in (20, 32) or const != _BECH32_CONST):
        return None
    if version > 0 and const != _BECH32M_CONST:
        return None
    return version, bytes(program)


def check(chain: str, text: str) -> Checked:
    """Validate `text` as an address of `chain` (eth, bsc, arbi and other EVM keys: the Ethereum rule)."""
    if chain in ("btc",):
        return _bitcoin(text)
    if chain == "tron":
        payload = b58check(text) if text.startswith("T") else None
        if payload is None or len(payload) != 21 or payload[0] != 0x41:
            return Checked(None, problem="not a Tron address (base58check, 0x41 prefix)")
        return Checked(text)
    if chain == "solana":
        raw = b58decode(text)
        if raw is None or len(raw) != 32:
            return Checked(None, problem="not a Solana address (32-byte base58 key)")
        return Checked(text)
    if not _HEX40.fullmatch(text):
        return Checked(None, problem="not 0x followed by 40 hex digits")
    body = text[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(text):
        return Checked(text.lower(), frozenset({"bad-checksum"}), "fails its EIP-55 checksum")
    return Checked(text.lower())


def _bitcoin(text: str) -> Checked:
    if text[:3].lower() == "bc1":
        if segwit_decode("bc", text) is None:
            return Checked(None, problem="not a valid bech32/bech32m segwit address")
        return Checked(text.lower())
    payload = b58check(text)
    if payload is None or len(payload) != 21 or payload[0] not in (0x00, 0x05):
        return Checked(None, problem="not a valid base58check P2PKH/P2SH address")
    return Checked(text)
