"""Ethereum address parsing.

Analysts paste addresses from reports, explorers and chats. A mixed-case
address carries an EIP-55 checksum; if it does not verify, the address was
mistyped or tampered with, and tracing it would silently follow the wrong
account, so it is refused. All-lower and all-upper forms carry no checksum
and are accepted.
"""

from __future__ import annotations

import re

from eth_utils import is_checksum_address, to_checksum_address

from .errors import InputError

_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")


def parse_address(text: str) -> str:
    """Return the lowercase form of a user-supplied address, or raise InputError."""
    candidate = text.strip()
    if candidate[:2] in ("0X",):
        candidate = "0x" + candidate[2:]
    if not _HEX40.match(candidate):
        raise InputError(f"invalid address {text!r}: expected 0x followed by 40 hex digits")
    body = candidate[2:]
    if body != body.lower() and body != body.upper():
        if not is_checksum_address(candidate):
            # No "did you mean": the checksum of a mistyped address is just as valid.
            raise InputError(
                f"address {text} fails its EIP-55 checksum: a character is mistyped or its case was changed"
            )
    return candidate.lower()


def is_address(text: str) -> bool:
    """True for a syntactically valid 0x address (any case, checksum not checked)."""
    return bool(_HEX40.match(text or ""))


def checksum(address: str) -> str:
    """EIP-55 form, for display."""
    return to_checksum_address(address)
