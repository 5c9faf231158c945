"""EVM chains a trail can continue on, by the short names used in node ids (`base:0x…`)."""

from __future__ import annotations

EVM_CHAIN_IDS = {
    "eth": 1, "op": 10, "bsc": 56, "gnosis": 100, "polygon": 137, "zksync": 324, "base": 8453,
    "arb": 42161, "avax": 43114, "linea": 59144, "scroll": 534352,
}
NAMES_BY_ID = {v: k for k, v in EVM_CHAIN_IDS.items()}
# Public Blockscout instances, for chains Etherscan's free tier does not serve (Base, OP, ...): a trail there is
# followed on that chain's Blockscout instead (`--chain-explorer CHAIN=URL` names another one, or one for BSC/Avax).
BLOCKSCOUT_INSTANCES = {
    "base": "https://base.blockscout.com/api", "op": "https://optimism.blockscout.com/api",
    "arb": "https://arbitrum.blockscout.com/api", "gnosis": "https://gnosis.blockscout.com/api",
    "polygon": "https://polygon.blockscout.com/api", "zksync": "https://zksync.blockscout.com/api",
    "scroll": "https://scroll.blockscout.com/api",
}
NATIVE_SYMBOL = {"bsc": "BNB", "polygon": "POL", "avax": "AVAX", "gnosis": "XDAI"}  # others: ETH


def split_node(node: str) -> tuple[str, str]:
    """("base", "0x…") for "base:0x…"; ("eth", "0x…") for a plain address of the home chain."""
    if ":" in node:
        chain, _, address = node.partition(":")
        return chain, address
    return "eth", node


def is_evm_destination(chain: str, address: str) -> bool:
    return chain in EVM_CHAIN_IDS and chain != "eth" and address.startswith("0x") and len(address) == 42
