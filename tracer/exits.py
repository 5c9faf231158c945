"""Decoding where value left the traceable chain: bridge deposits and mixer deposits.

Input is a transaction receipt (its logs) or a memo carried by a plain ETH
transfer; output is Exit records. Everything here reads untrusted bytes:
a log that does not decode is skipped and counted, never a crash.

Events (topic0 = keccak of the signature):
- THORChain/MAYAChain router: Deposit(address indexed to, address indexed asset, uint256 amount, string memo)
- Tornado Cash pool: Deposit(bytes32 indexed commitment, uint32 leafIndex, uint256 timestamp)
- Chainflip Vault: SwapNative(uint32 dstChain, bytes dstAddress, uint32 dstToken, uint256 amount,
  address indexed sender[, bytes cfParameters]) and SwapToken(..., address srcToken, uint256 amount, ...)
- LI.FI diamond: LiFiTransferStarted(BridgeData) and BridgeToNonEVMChain(bytes32 indexed transactionId,
  uint256 indexed destinationChainId, bytes receiver)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from eth_abi import decode
from eth_utils import keccak

from .chains import NAMES_BY_ID
from .models import ETH
from .thorchain import MemoError, parse_memo


def topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


THORCHAIN_DEPOSIT = topic("Deposit(address,address,uint256,string)")
TORNADO_DEPOSIT = topic("Deposit(bytes32,uint32,uint256)")
TORNADO_WITHDRAWAL = topic("Withdrawal(address,bytes32,address,uint256)")
CHAINFLIP_SWAP_NATIVE = topic("SwapNative(uint32,bytes,uint32,uint256,address,bytes)")
CHAINFLIP_SWAP_NATIVE_V1 = topic("SwapNative(uint32,bytes,uint32,uint256,address)")
CHAINFLIP_SWAP_TOKEN = topic("SwapToken(uint32,bytes,uint32,address,uint256,address,bytes)")
CHAINFLIP_SWAP_TOKEN_V1 = topic("SwapToken(uint32,bytes,uint32,address,uint256,address)")
LIFI_STARTED = topic("LiFiTransferStarted((bytes32,string,string,address,address,address,uint256,uint256,bool,bool))")
LIFI_NON_EVM = topic("BridgeToNonEVMChain(bytes32,uint256,bytes)")

THORCHAIN_ROUTERS = {
    "0xd37bbe5744d730a1d98d8dc97c42f0ca46ad7146", "0x3624525075b88b24ecc29ce226b0cec1ffcb6976",
    "0xc145990e84155416144c532e31f89b840ca8c2ce", "0x42a5ed456650a09dc10ebc6361a7480fdd61f27b",
}
MAYA_ROUTERS = {"0xe3985e6b61b814f7cdb188766562ba71b446b46d"}
CHAINFLIP_VAULTS = {"0xf5e10380213880111522dd0efd3dbb45b9f62bcc"}
LIFI_DIAMONDS = {"0x1231deb6f5749ef6ce6943a275a1d3e7486f4eae"}
TORNADO_POOLS = {  # pool -> denomination in wei
    "0x12d66f87a04a9e220743712ce6d9bb1b5616b8fc": 10**17,
    "0x47ce0c6ed5b0ce3d3a51fdb1c52dc66a7c3c2936": 10**18,
    "0x910cbd523d972eb0a6f4cae4618ad62622b39dbf": 10 * 10**18,
    "0xa160cdab225685da1d56aa342ad8841c3b53f291": 100 * 10**18,
}
TORNADO_ENTRANCES = {"0xd90e2f925da726b50c4ed8d0fb90ad053324f31b", "0x722122df12d4e14e13ac3b6895a86e84145b6967"}

CHAINFLIP_CHAINS = {1: "eth", 2: "dot", 3: "btc", 4: "arb", 5: "sol"}
CHAINFLIP_ASSETS = {1: "ETH", 2: "FLIP", 3: "USDC", 4: "DOT", 5: "BTC"}
EVM_CHAINS = NAMES_BY_ID
LIFI_NON_EVM_CHAINS = {20000000000001: "btc", 1151111081099710: "sol"}
LIFI_NON_EVM_RECEIVER = "0x11f111f111f111f111f111f111f111f111f111f1"


@dataclass
class Exit:
    tx_hash: str
    log_index: int  # -1: decoded from a memo, not a log
    protocol: str  # thorchain, mayachain, tornado, chainflip, lifi
    venue: str
    depositor: str
    block: int
    timestamp: int
    token: str
    amount: int
    dest_chain: str = ""
    dest_address: str = ""
    dest_asset: str = ""
    memo: str = ""
    detail: dict = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def dest_node(self) -> str:
        """Graph node of the destination: a plain 0x address on this chain, else <chain>:<address>."""
        if not self.dest_address:
            return ""
        evm_address = self.dest_address.lower().startswith("0x") and len(self.dest_address) == 42
        if self.dest_chain in ("eth", "") and evm_address:
            return self.dest_address.lower()
        return f"{self.dest_chain}:{self.dest_address.lower() if evm_address else self.dest_address}"

    def detail_json(self) -> str:
        return json.dumps(self.detail, sort_keys=True, ensure_ascii=False)


def _word_address(topic_hex: str) -> str:
    return "0x" + topic_hex[-40:].lower()


def _data(log: dict) -> bytes:
    data = str(log.get("data") or "0x")
    return bytes.fromhex(data[2:])


def _safe_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")[:500]


def apply_memo(exit_: Exit, memo_text: str) -> None:
    exit_.memo = memo_text
    try:
        memo = parse_memo(memo_text)
    except MemoError as err:
        exit_.flags.add("malformed-memo")
        exit_.detail["memo_error"] = str(err)
        return
    exit_.detail["action"] = memo.action
    if memo.is_swap:
        exit_.dest_chain = memo.chain.lower()
        exit_.dest_address = memo.dest_address
        exit_.dest_asset = memo.asset
        if memo.refund_address:
            exit_.detail["refund_address"] = memo.refund_address
        if memo.limit is not None:
            exit_.detail["limit"] = str(memo.limit)
        if memo.quantity is not None:
            exit_.detail["streaming"] = f"{memo.interval}/{memo.quantity}"
        if memo.affiliates:
            exit_.detail["affiliates"] = "/".join(memo.affiliates)


def decode_receipt(receipt: dict, block: int, timestamp: int) -> tuple[list[Exit], int]:
    """Exits in a receipt, and how many candidate logs failed to decode."""
    out: list[Exit] = []
    bad = 0
    tx_hash = str(receipt.get("transactionHash", "")).lower()
    depositor = str(receipt.get("from", "")).lower()
    non_evm: dict[str, tuple[int, bytes]] = {}
    for log in receipt.get("logs") or []:
        try:
            emitter = str(log.get("address", "")).lower()
            topics = [str(t).lower() for t in log.get("topics") or [] if t is not None]  # Blockscout pads with null
            if not topics:
                continue
            t0 = topics[0]
            raw_index = str(log.get("logIndex", "0x0"))
            index = 0 if raw_index.lower() == "0x" else int(raw_index, 0)  # Etherscan writes zero as "0x"
            if t0 == THORCHAIN_DEPOSIT and (emitter in THORCHAIN_ROUTERS or emitter in MAYA_ROUTERS) and len(topics) == 3:
                amount, memo = decode(["uint256", "string"], _data(log))
                asset = _word_address(topics[2])
                e = Exit(tx_hash, index, "mayachain" if emitter in MAYA_ROUTERS else "thorchain",
                         _word_address(topics[1]), depositor, block, timestamp,
                         ETH if int(asset, 16) == 0 else asset, int(amount))
                e.detail["router"] = emitter
                apply_memo(e, memo[:500])
                out.append(e)
            elif t0 == TORNADO_DEPOSIT and emitter in TORNADO_POOLS and len(topics) == 2:
                leaf, stamp = decode(["uint32", "uint256"], _data(log))
                e = Exit(tx_hash, index, "tornado", emitter, depositor, block, timestamp, ETH, TORNADO_POOLS[emitter])
                e.detail.update(commitment=topics[1], leaf_index=int(leaf), denomination=str(TORNADO_POOLS[emitter]))
                out.append(e)
            elif t0 in (CHAINFLIP_SWAP_NATIVE, CHAINFLIP_SWAP_NATIVE_V1) and emitter in CHAINFLIP_VAULTS:
                types = ["uint32", "bytes", "uint32", "uint256"] + (["bytes"] if t0 == CHAINFLIP_SWAP_NATIVE else [])
                values = decode(types, _data(log))
                out.append(_chainflip(tx_hash, index, emitter, depositor, block, timestamp, values[0], values[1],
                                      values[2], ETH, values[3]))
            elif t0 in (CHAINFLIP_SWAP_TOKEN, CHAINFLIP_SWAP_TOKEN_V1) and emitter in CHAINFLIP_VAULTS:
                types = ["uint32", "bytes", "uint32", "address", "uint256"] + (["bytes"] if t0 == CHAINFLIP_SWAP_TOKEN else [])
                values = decode(types, _data(log))
                out.append(_chainflip(tx_hash, index, emitter, depositor, block, timestamp, values[0], values[1],
                                      values[2], str(values[3]).lower(), values[4]))
            elif t0 == LIFI_STARTED and emitter in LIFI_DIAMONDS:
                (data,) = decode(["(bytes32,string,string,address,address,address,uint256,uint256,bool,bool)"], _data(log))
                tx_id, bridge, integrator, _ref, asset, receiver, amount, chain_id, _swaps, _call = data
                chain = EVM_CHAINS.get(chain_id) or LIFI_NON_EVM_CHAINS.get(chain_id) or f"chain{chain_id}"
                e = Exit(tx_hash, index, "lifi", emitter, depositor, block, timestamp,
                         ETH if int(str(asset), 16) == 0 else str(asset).lower(), int(amount),
                         dest_chain=chain, dest_address=str(receiver).lower())
                e.detail.update(bridge=bridge[:64], integrator=integrator[:64], transaction_id="0x" + tx_id.hex(),
                                destination_chain_id=str(chain_id))
                out.append(e)
            elif t0 == LIFI_NON_EVM and emitter in LIFI_DIAMONDS and len(topics) == 3:
                (receiver,) = decode(["bytes"], _data(log))
                non_evm[topics[1]] = (int(topics[2], 16), receiver)
        except Exception:  # noqa: BLE001 - hostile bytes: skip the log, count it
            bad += 1
    for e in out:  # LI.FI to a non-EVM chain: the real receiver is in the companion event
        if e.protocol == "lifi" and e.dest_address == LIFI_NON_EVM_RECEIVER:
            found = non_evm.get(e.detail.get("transaction_id", ""))
            if found:
                chain_id, receiver = found
                e.dest_chain = LIFI_NON_EVM_CHAINS.get(chain_id, f"chain{chain_id}")
                e.dest_address = _bytes_address(receiver)
    return out, bad


def _bytes_address(raw: bytes) -> str:
    text = raw.decode("ascii", "ignore") if raw and all(0x21 <= b < 0x7F for b in raw) else ""
    return text or "0x" + raw.hex()


def _chainflip(tx_hash, index, venue, depositor, block, timestamp, chain_id, dst, token_id, token, amount) -> Exit:
    chain = CHAINFLIP_CHAINS.get(int(chain_id), f"chainflip{chain_id}")
    if chain in ("eth", "arb") and len(dst) == 20:
        dest = "0x" + dst.hex()
    else:
        dest = _bytes_address(dst)
    e = Exit(tx_hash, index, "chainflip", venue, depositor, block, timestamp, token, int(amount),
             dest_chain=chain, dest_address=dest, dest_asset=CHAINFLIP_ASSETS.get(int(token_id), f"asset{token_id}"))
    e.detail["dst_chain_id"] = int(chain_id)
    return e


def exit_from_memo(tx_hash: str, venue: str, depositor: str, block: int, timestamp: int, amount: int,
                   memo: str) -> Exit:
    """A plain ETH transfer straight to a THORChain vault, the memo in its input."""
    e = Exit(tx_hash, -1, "thorchain", venue, depositor, block, timestamp, ETH, amount)
    e.detail["via"] = "vault transfer with memo"
    apply_memo(e, memo)
    return e
