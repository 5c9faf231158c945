"""What an address's bytecode says about it.

Contracts are endpoints of a trace (a DEX pool, a token, a bridge), not
wallets someone controls, so the trace stops there. Two kinds of code are
wallets nonetheless and are followed: Safe proxies (the Bybit cold wallet
itself was one) and EIP-7702 delegated EOAs.
"""

from __future__ import annotations

EOA = "eoa"
CONTRACT = "contract"
WALLET_CONTRACT = "wallet-contract"

# A Safe (Gnosis Safe) proxy answers masterCopy() (selector a619486e) itself,
# comparing calldata against PUSH32 a619486e00..00 in its short runtime code.
_SAFE_MASTERCOPY_PUSH = "7fa619486e" + "00" * 28
_EIP7702_PREFIX = "0xef0100"


def classify_code(code: str) -> str:
    code = code.lower()
    if code in ("", "0x", "0x0"):
        return EOA
    if code.startswith(_EIP7702_PREFIX) and len(code) == 2 + 2 * 23:
        return WALLET_CONTRACT
    if _SAFE_MASTERCOPY_PUSH in code and len(code) < 2 + 2 * 1200:
        return WALLET_CONTRACT
    return CONTRACT
