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
from .labels import decoder_of, label_for
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

# Which contracts each decoder reads is in the labels (data/labels.json, `decoder`), with their sources; a user's
# labels file adds routers and vaults as they rotate (see labels.py).

# Chainflip's chain and asset ids: chainflip-io/chainflip-product-toolkit packages/extrinsics (ForeignChain, Asset)
CHAINFLIP_CHAINS = {1: "eth", 2: "dot", 3: "btc", 4: "arb", 5: "sol"}
CHAINFLIP_ASSETS = {1: "ETH", 2: "FLIP", 3: "USDC", 4: "DOT", 5: "BTC", 6: "arbETH", 7: "arbUSDC", 8: "USDT",
                    9: "SOL", 10: "solUSDC"}
EVM_CHAINS = NAMES_BY_ID
# LI.FI's ids for chains without an EVM chain id: lifinance/contracts src/Helpers/LiFiData.sol
LIFI_NON_EVM_CHAINS = {20000000000001: "btc", 20000000000002: "bch", 20000000000003: "ltc", 20000000000004: "doge",
                       1151111081099710: "sol", 9270000000000000: "sui", 1885080386571452: "tron",
                       9271000000000010: "aptos"}
LIFI_NON_EVM_RECEIVER = "0x11f111f111f111f111f111f111f111f111f111f1"


def is_exit_venue(address: str) -> bool:
    """A contract whose deposit transactions say where the funds went (any decoder the labels name)."""
    return decoder_of(address) is not None


def is_tornado_pool(address: str) -> bool:
    return decoder_of(address) == "tornado-pool"


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
        if self.dest_chain == "btc":
            from .btc import node_for

            return node_for(self.dest_address) or f"btc:{self.dest_address}"
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
            kind = decoder_of(emitter)
            if t0 == THORCHAIN_DEPOSIT and kind in ("thorchain-router", "maya-router") and len(topics) == 3:
                amount, memo = decode(["uint256", "string"], _data(log))
                asset = _word_address(topics[2])
                e = Exit(tx_hash, index, "mayachain" if kind == "maya-router" else "thorchain",
                         _word_address(topics[1]), depositor, block, timestamp,
                         ETH if int(asset, 16) == 0 else asset, int(amount))
                e.detail["router"] = emitter
                apply_memo(e, memo[:500])
                out.append(e)
            elif t0 == TORNADO_DEPOSIT and kind == "tornado-pool" and len(topics) == 2:
                leaf, stamp = decode(["uint32", "uint256"], _data(log))
                pool = label_for(emitter)
                e = Exit(tx_hash, index, "tornado", emitter, depositor, block, timestamp, pool.asset or ETH,
                         pool.denomination or 0)
                e.detail.update(commitment=topics[1], leaf_index=int(leaf), denomination=str(pool.denomination))
                out.append(e)
            elif t0 in (CHAINFLIP_SWAP_NATIVE, CHAINFLIP_SWAP_NATIVE_V1) and kind == "chainflip-vault":
                types = ["uint32", "bytes", "uint32", "uint256"] + (["bytes"] if t0 == CHAINFLIP_SWAP_NATIVE else [])
                values = decode(types, _data(log))
                out.append(_chainflip(tx_hash, index, emitter, depositor, block, timestamp, values[0], values[1],
                                      values[2], ETH, values[3]))
            elif t0 in (CHAINFLIP_SWAP_TOKEN, CHAINFLIP_SWAP_TOKEN_V1) and kind == "chainflip-vault":
                types = ["uint32", "bytes", "uint32", "address", "uint256"] + (["bytes"] if t0 == CHAINFLIP_SWAP_TOKEN else [])
                values = decode(types, _data(log))
                out.append(_chainflip(tx_hash, index, emitter, depositor, block, timestamp, values[0], values[1],
                                      values[2], str(values[3]).lower(), values[4]))
            elif t0 == LIFI_STARTED and kind == "lifi-diamond":
                (data,) = decode(["(bytes32,string,string,address,address,address,uint256,uint256,bool,bool)"], _data(log))
                tx_id, bridge, integrator, _ref, asset, receiver, amount, chain_id, _swaps, _call = data
                chain = EVM_CHAINS.get(chain_id) or LIFI_NON_EVM_CHAINS.get(chain_id) or f"chain{chain_id}"
                e = Exit(tx_hash, index, "lifi", emitter, depositor, block, timestamp,
                         ETH if int(str(asset), 16) == 0 else str(asset).lower(), int(amount),
                         dest_chain=chain, dest_address=str(receiver).lower())
                e.detail.update(bridge=bridge[:64], integrator=integrator[:64], transaction_id="0x" + tx_id.hex(),
                                destination_chain_id=str(chain_id))
                out.append(e)
            elif t0 == LIFI_NON_EVM and kind == "lifi-diamond" and len(topics) == 3:
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
