"""Valid Bitcoin-family addresses for tests, derived from names (base58check: the real checksum)."""

from __future__ import annotations

import hashlib

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58check(payload: bytes) -> str:
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n, out = int.from_bytes(raw, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def p2pkh(name: str) -> str:
    """A legacy (1…) Bitcoin address whose key hash is derived from `name`."""
    return b58check(b"\0" + hashlib.sha256(name.encode()).digest()[:20])

