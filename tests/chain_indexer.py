"""Builds Etherscan-shaped records from a local chain, so the explorer source can read the same chain.

It walks every block the way an explorer's indexer does: top-level
transactions (txlist), value-carrying nested calls (txlistinternal, from
trace_transaction), and ERC-20 Transfer logs (tokentx). It shares no code
with the tracer's sources: the point is an independent view of the chain.
"""

from __future__ import annotations

from eth_abi import decode

from anvil import Anvil
from explorer_server import Chain

TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def index_chain(node: Anvil) -> Chain:
    chain = Chain()
    head = int(node.rpc("eth_blockNumber"), 16)
    symbols: dict[str, tuple[str, str]] = {}
    for n in range(0, head + 1):
        block = node.rpc("eth_getBlockByNumber", hex(n), True)
        chain.timestamps[n] = int(block["timestamp"], 16)
        for tx in block["transactions"]:
            chain.transactions[tx["hash"].lower()] = tx
            receipt = node.rpc("eth_getTransactionReceipt", tx["hash"])
            chain.receipts[tx["hash"].lower()] = receipt
            ok = int(receipt["status"], 16) == 1
            common = {"blockNumber": str(n), "timeStamp": str(int(block["timestamp"], 16)), "hash": tx["hash"]}
            chain.records["txlist"].append({**common, "from": tx["from"], "to": tx["to"] or "",
                                            "value": str(int(tx["value"], 16)), "isError": "0" if ok else "1",
                                            "input": tx.get("input") or "0x",
                                            "contractAddress": receipt.get("contractAddress") or ""})
            if not ok:
                continue
            for tr in node.rpc("trace_transaction", tx["hash"]):
                action = tr["action"]
                if tr["traceAddress"] and tr["type"] == "call" and action.get("callType") == "call" \
                        and int(action["value"], 16) > 0 and not tr.get("error"):
                    chain.records["txlistinternal"].append({**common, "from": action["from"], "to": action["to"],
                                                            "value": str(int(action["value"], 16)), "isError": "0",
                                                            "contractAddress": "", "type": "call"})
            for lg in receipt["logs"]:
                if len(lg["topics"]) != 3 or lg["topics"][0] != TRANSFER:
                    continue
                token = lg["address"].lower()
                if token not in symbols:
                    sym = node.rpc("eth_call", {"to": token, "data": "0x95d89b41"}, "latest")
                    dec = node.rpc("eth_call", {"to": token, "data": "0x313ce567"}, "latest")
                    symbols[token] = (decode(["string"], bytes.fromhex(sym[2:]))[0], str(int(dec, 16)))
                chain.records["tokentx"].append({
                    **common, "from": "0x" + lg["topics"][1][-40:], "to": "0x" + lg["topics"][2][-40:],
                    "value": str(int(lg["data"][2:66], 16)), "contractAddress": token,
                    "tokenSymbol": symbols[token][0], "tokenName": symbols[token][0], "tokenDecimal": symbols[token][1],
                })
    for address in {r["to"] for rows in chain.records.values() for r in rows if r["to"]}:
        code = node.rpc("eth_getCode", address, "latest")
        if code != "0x":
            chain.code[address.lower()] = code
    chain.head = head
    return chain
