"""Lays a Bybit-like laundering pattern on a local anvil chain (tests and benchmarks share it).

Every movement is a real transaction in a real block with a February 2025
timestamp: a seed fanning out in equal round amounts, a peel chain, a
Safe-style wallet paying out by internal call, stETH (at its real address)
moved through several hops, a DEX that takes stETH and pays ETH back in the
same transaction, a reverted transfer, and poisoning spam (a counterfeit
"ЕTH" and zero-value stETH transfers to an address imitating a real
counterparty).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from anvil import Anvil

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "contracts" / "build"
STETH = "0xae7ab96520de3a18e5e111b5eaab095312d7fe84"
THOR_ROUTER = "0xd37bbe5744d730a1d98d8dc97c42f0ca46ad7146"  # THORChain router v4.1
TORNADO_100 = "0xa160cdab225685da1d56aa342ad8841c3b53f291"  # Tornado Cash 100 ETH pool
TORNADO_10 = "0x910cbd523d972eb0a6f4cae4618ad62622b39dbf"  # Tornado Cash 10 ETH pool
ODD_GAS_PRICE = 13_370_000_000  # 13.37 gwei: a gas price nobody else uses
BTC_DEST = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"
BTC_DEST_2 = "bc1q9h6tq5x8zr4m0ns2s5fhw0vxqj5m7l3k2d8u4c"
ETHER = 10**18
START_TIME = 1740148187  # 2025-02-21 14:29:47 UTC, the Bybit exploiter's first outflow
SAFE_PROXY_CODE = (
    "0x608060405273ffffffffffffffffffffffffffffffffffffffff600054167fa619486e00000000000000000000000000000000"
    "00000000000000000000000060003514156050578060005260206000f35b3660008037600080366000845af43d6000803e6000"
    "8114156070573d6000fd5b3d6000f3fea2646970667358221220d1429297349653a4918076d650332de1a1068c5f3e07c5c8"
    "2360c277770b955264736f6c63430007060033"
)


def addr(name: str) -> str:
    """A deterministic address for a scenario role."""
    return "0x" + hashlib.sha256(name.encode()).hexdigest()[:40]


def lookalike(of: str, salt: str = "poison") -> str:
    """Same first 4 and last 4 hex digits as `of`, different middle: what poisoners generate."""
    middle = hashlib.sha256((of + salt).encode()).hexdigest()[:32]
    return of[:6] + middle + of[-4:]


def artifact(name: str) -> dict:
    return json.loads((BUILD / f"{name}.json").read_text())


def calldata(signature: str, types: list[str], args: list) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + encode(types, args)).hex()


@dataclass
class Movement:
    """One transfer the trace must find: (from, to, kind, token, amount) and its tx hash."""

    tx_hash: str
    kind: str
    src: str
    dst: str
    token: str
    amount: int


@dataclass
class Scenario:
    seed: str = addr("seed")
    fanout: list[str] = field(default_factory=lambda: [addr(f"fanout-{i}") for i in range(1, 7)])
    peel: list[str] = field(default_factory=lambda: [addr(f"peel-{i}") for i in range(1, 4)])
    peel_exit: str = addr("peel-exit")
    safe: str = addr("safe-wallet")
    safe_impl: str = addr("safe-impl")
    safe_owner: str = addr("safe-owner")
    safe_payee: str = addr("safe-payee")
    steth_hops: list[str] = field(default_factory=lambda: [addr("steth-1"), addr("steth-2")])
    dex: str = addr("mock-dex")
    swap_payee: str = addr("swap-payee")
    counterfeit: str = addr("counterfeit-eth")
    spammer: str = addr("spammer")
    movements: list[Movement] = field(default_factory=list)
    failed_tx: str = ""
    poison_txs: list[str] = field(default_factory=list)
    mixer_user: str = addr("mixer-user")
    vault: str = addr("thorchain-asgard-vault")
    router_memo: str = f"=:BTC.BTC:{BTC_DEST}:0/1/0:dx:30"
    vault_memo: str = f"=:b:{BTC_DEST_2}"
    bad_memo: str = "=:ZZZ:???"
    exits: dict[str, str] = field(default_factory=dict)  # role -> tx hash
    relayer: str = addr("tornado-relayer")
    linked: str = addr("mixer-linked")  # 3 direct transfers with the depositor
    gas_twin: str = addr("mixer-gas-twin")  # withdraws with the deposit's odd gas price
    multi: str = addr("mixer-multi")  # withdraws from both pools the depositor used
    stranger: str = addr("mixer-stranger")  # an unrelated withdrawal, first in line
    withdrawals: dict[str, str] = field(default_factory=dict)  # recipient role -> tx hash

    @property
    def poison_target(self) -> str:
        return lookalike(self.fanout[0])


class Builder:
    """Sends transactions one block at a time, each block a minute after the last."""

    def __init__(self, node: Anvil, start_time: int = START_TIME):
        self.node = node
        self.time = start_time

    def _next_time(self) -> None:
        self.time += 60
        self.node.rpc("evm_setNextBlockTimestamp", hex(self.time))

    def send(self, src: str, to: str, value: int = 0, data: str = "0x", gas: int | None = None,
             gas_price: int | None = None) -> str:
        """One transaction in its own block; a gas_price makes it a legacy (type 0) transaction."""
        self._next_time()
        tx = {"from": src, "to": to, "value": hex(value), "data": data}
        if gas:
            tx["gas"] = hex(gas)
        if gas_price:
            tx["gasPrice"] = hex(gas_price)
        tx_hash = self.node.rpc("eth_sendTransaction", tx)
        if self.receipt(tx_hash) is None:  # one block per transaction, in order, before the next timestamp
            raise RuntimeError(f"transaction {tx_hash} was not mined")
        return tx_hash

    def receipt(self, tx_hash: str) -> dict:
        """The receipt, once the block holding the transaction is there (automine can lag a moment)."""
        import time

        deadline = time.monotonic() + 10
        while True:
            receipt = self.node.rpc("eth_getTransactionReceipt", tx_hash)
            if receipt is not None or time.monotonic() > deadline:
                return receipt
            time.sleep(0.02)

    def place(self, address: str, contract: str) -> None:
        self.node.rpc("anvil_setCode", address, artifact(contract)["deployedBytecode"])

    def fund(self, address: str, wei: int) -> None:
        self.node.rpc("anvil_setBalance", address, hex(wei))


def build(node: Anvil) -> Scenario:
    s = Scenario()
    b = Builder(node)
    moves = s.movements

    def native(src, dst, amount):
        h = b.send(src, dst, amount)
        moves.append(Movement(h, "native", src, dst, "ETH", amount))
        return h

    def steth(src, dst, amount):
        h = b.send(src, STETH, data=calldata("transfer(address,uint256)", ["address", "uint256"], [dst, amount]))
        moves.append(Movement(h, "erc20", src, dst, STETH, amount))
        return h

    # contracts at their places; constructors do not run under anvil_setCode
    b.place(STETH, "ScenarioToken")
    for who in (s.seed, s.safe_owner, s.spammer):
        b.fund(who, 10_000 * ETHER if who == s.seed else 10 * ETHER)
    b.send(s.spammer, STETH, data=calldata("init(string,string,uint8)", ["string", "string", "uint8"],
                                           ["Liquid staked Ether 2.0", "stETH", 18]))
    b.place(s.counterfeit, "ScenarioToken")
    b.send(s.spammer, s.counterfeit, data=calldata("init(string,string,uint8)", ["string", "string", "uint8"],
                                                   ["ЕTH", "ЕTH", 18]))  # Cyrillic Е
    b.place(s.dex, "MockDex")
    b.fund(s.dex, 1_000 * ETHER)
    b.send(s.spammer, s.dex, data=calldata("setRate(uint256)", ["uint256"], [990_000]))
    b.place(s.safe_impl, "WalletImpl")
    node.rpc("anvil_setCode", s.safe, SAFE_PROXY_CODE)
    node.rpc("anvil_setStorageAt", s.safe, "0x0", "0x" + s.safe_impl[2:].rjust(64, "0"))
    node.rpc("anvil_setStorageAt", s.safe, "0x1", "0x" + s.safe_owner[2:].rjust(64, "0"))
    b.send(s.spammer, STETH, data=calldata("mint(address,uint256)", ["address", "uint256"], [s.seed, 1_000 * ETHER]))

    # hop 1: fan-out in equal round amounts, and the Safe
    for f in s.fanout:
        native(s.seed, f, 10 * ETHER)
    native(s.seed, s.safe, 20 * ETHER)
    # a reverted transfer moves nothing (MockDex has no payable function taking this call)
    s.failed_tx = b.send(s.seed, s.dex, 5 * ETHER, data=calldata("setRate(uint256)", ["uint256"], [1]), gas=100_000)
    assert int(b.receipt(s.failed_tx)["status"], 16) == 0

    # peel chain: most goes on, a little peels off each hop
    f1 = s.fanout[0]
    native(f1, s.peel[0], 9 * ETHER + ETHER // 2)
    native(f1, s.peel_exit, 4 * ETHER // 10)
    native(s.peel[0], s.peel[1], 9 * ETHER)
    native(s.peel[1], s.peel[2], 8 * ETHER + ETHER // 2)

    # the Safe pays out by internal call, in a transaction its owner sends
    h = b.send(s.safe_owner, s.safe, data=calldata("execute(address,uint256)", ["address", "uint256"],
                                                   [s.safe_payee, 15 * ETHER]))
    moves.append(Movement(h, "internal", s.safe, s.safe_payee, "ETH", 15 * ETHER))

    # stETH through several hops
    f2 = s.fanout[1]
    b.fund(s.steth_hops[0], ETHER)  # gas money, from outside the trail (anvil_setBalance moves nothing visible)
    steth(s.seed, f2, 300 * ETHER)
    steth(f2, s.steth_hops[0], 200 * ETHER)
    steth(s.steth_hops[0], s.steth_hops[1], 150 * ETHER)

    # a swap: stETH in, ETH back in the same transaction, then the ETH moves on
    f3 = s.fanout[2]
    steth(s.seed, f3, 100 * ETHER)
    b.send(f3, STETH, data=calldata("approve(address,uint256)", ["address", "uint256"], [s.dex, 100 * ETHER]))
    h = b.send(f3, s.dex, data=calldata("swapTokenForEth(address,uint256)", ["address", "uint256"],
                                        [STETH, 100 * ETHER]))
    moves.append(Movement(h, "erc20", f3, s.dex, STETH, 100 * ETHER))
    moves.append(Movement(h, "internal", s.dex, f3, "ETH", 99 * ETHER))
    native(f3, s.swap_payee, 99 * ETHER)

    # exits: THORChain through the router (memo in the Deposit event) and straight to a vault (memo as
    # the transfer's input), a malformed memo, and a Tornado Cash 100 ETH deposit
    b.place(THOR_ROUTER, "ThorRouterMock")
    b.place(TORNADO_100, "TornadoPoolMock")
    f4, f5, f6 = s.fanout[3], s.fanout[4], s.fanout[5]
    h = b.send(f5, THOR_ROUTER, 8 * ETHER, data=calldata(
        "depositWithExpiry(address,address,uint256,string,uint256)", ["address", "address", "uint256", "string", "uint256"],
        [s.vault, "0x" + "00" * 20, 8 * ETHER, s.router_memo, 2**40]))
    moves.append(Movement(h, "native", f5, THOR_ROUTER, "ETH", 8 * ETHER))
    s.exits["router"] = h
    h = b.send(f6, s.vault, 5 * ETHER, data="0x" + s.vault_memo.encode().hex())
    moves.append(Movement(h, "native", f6, s.vault, "ETH", 5 * ETHER))
    s.exits["vault"] = h
    h = b.send(f4, s.vault, 1 * ETHER, data="0x" + s.bad_memo.encode().hex())
    s.exits["bad_memo"] = h
    # Tornado Cash: three deposits by one user, then withdrawals that each heuristic should (or should not) link
    b.place(TORNADO_10, "TornadoPoolMock")
    for pool, denomination in ((TORNADO_100, 100 * ETHER), (TORNADO_10, 10 * ETHER)):
        b.send(s.spammer, pool, data=calldata("init(uint256)", ["uint256"], [denomination]))
        b.fund(pool, 1_000 * ETHER)  # other users' deposits
    native(s.seed, s.mixer_user, 250 * ETHER)
    for _ in range(3):
        native(s.mixer_user, s.linked, ETHER // 100)
    h = b.send(s.mixer_user, TORNADO_100, 100 * ETHER, data=calldata("deposit(bytes32)", ["bytes32"], [b"\x11" * 32]),
               gas=200_000, gas_price=ODD_GAS_PRICE)
    moves.append(Movement(h, "native", s.mixer_user, TORNADO_100, "ETH", 100 * ETHER))
    s.exits["tornado"] = h
    s.exits["tornado-2"] = b.send(s.mixer_user, TORNADO_100, 100 * ETHER,
                                  data=calldata("deposit(bytes32)", ["bytes32"], [b"\x12" * 32]))
    s.exits["tornado-10"] = b.send(s.mixer_user, TORNADO_10, 10 * ETHER,
                                   data=calldata("deposit(bytes32)", ["bytes32"], [b"\x13" * 32]))
    b.fund(s.relayer, 10 * ETHER)
    b.fund(s.gas_twin, ETHER)

    def withdraw(pool, recipient, nullifier, sender=None, gas_price=None):
        return b.send(sender or s.relayer, pool, data=calldata(
            "withdraw(address,bytes32,address,uint256)", ["address", "bytes32", "address", "uint256"],
            [recipient, nullifier, s.relayer, ETHER // 10]), gas=200_000, gas_price=gas_price)

    s.withdrawals["stranger"] = withdraw(TORNADO_100, s.stranger, b"\x21" * 32)
    s.withdrawals["same"] = withdraw(TORNADO_100, s.mixer_user, b"\x22" * 32)
    s.withdrawals["linked"] = withdraw(TORNADO_100, s.linked, b"\x23" * 32)
    s.withdrawals["gas"] = withdraw(TORNADO_100, s.gas_twin, b"\x24" * 32, sender=s.gas_twin, gas_price=ODD_GAS_PRICE)
    s.withdrawals["multi-100"] = withdraw(TORNADO_100, s.multi, b"\x25" * 32)
    s.withdrawals["multi-10"] = withdraw(TORNADO_10, s.multi, b"\x26" * 32)

    # poisoning: a counterfeit "ЕTH" the seed never sent, and a zero-value real stETH transferFrom
    target = s.poison_target
    s.poison_txs.append(b.send(s.spammer, s.counterfeit, data=calldata(
        "spoof(address,address,uint256)", ["address", "address", "uint256"], [s.seed, target, 10 * ETHER])))
    s.poison_txs.append(b.send(s.spammer, STETH, data=calldata(
        "transferFrom(address,address,uint256)", ["address", "address", "uint256"], [s.seed, target, 0])))
    return s
