"""Gathering what the mixer heuristics need, then storing the candidate links.

Reads the traced Tornado deposits from the store, asks the source for each
pool's Withdrawal events inside the window and for the transactions' gas
details, and hands everything to mixers.propose_links.
"""

from __future__ import annotations

from eth_abi import decode

from .exits import TORNADO_WITHDRAWAL, is_tornado_pool
from .mixers import Deposit, Link, TxInfo, Withdrawal, propose_links
from .store import Store


def _int(value) -> int:
    """A log field as an explorer writes it: decimal, hex, or Etherscan's bare "0x" for zero."""
    if isinstance(value, str):
        return 0 if value.strip().lower() == "0x" else int(value, 0)
    return int(value)


def tornado_deposits(store: Store, depositors: set[str] | None = None) -> list[Deposit]:
    rows = store.conn.execute("SELECT * FROM exits WHERE protocol='tornado'").fetchall()
    return [Deposit(r["tx_hash"], r["venue"], r["depositor"], r["block"], r["timestamp"], int(r["amount"]))
            for r in rows if depositors is None or r["depositor"] in depositors]


def _withdrawal(log: dict) -> Withdrawal | None:
    try:
        topics = [str(t).lower() for t in log.get("topics") or [] if t is not None]  # Blockscout pads with null
        if len(topics) != 2 or topics[0] != TORNADO_WITHDRAWAL:
            return None
        to, nullifier, fee = decode(["address", "bytes32", "uint256"], bytes.fromhex(str(log["data"])[2:]))
        return Withdrawal(
            tx_hash=str(log["transactionHash"]).lower(), log_index=_int(log.get("logIndex", 0)),
            pool=str(log["address"]).lower(), to=str(to).lower(), relayer="0x" + topics[1][-40:], fee=int(fee),
            block=_int(log["blockNumber"]), timestamp=_int(log.get("timeStamp", 0)),
        )
    except (KeyError, ValueError, TypeError, OverflowError, Exception):  # noqa: BLE001 - hostile bytes
        return None


def link_mixers(store: Store, source, head: int, window_days: float, depositors: set[str] | None = None) -> list[Link]:
    deposits = [d for d in tornado_deposits(store, depositors) if is_tornado_pool(d.pool)]
    if not deposits:
        return []
    window = int(window_days * 86_400)
    withdrawals: list[Withdrawal] = []
    for pool in sorted({d.pool for d in deposits}):
        start = min(d.block for d in deposits if d.pool == pool)
        for log in source.logs(pool, TORNADO_WITHDRAWAL, start, head):
            w = _withdrawal(log)
            if w is not None:
                withdrawals.append(w)
    wanted = {d.tx_hash for d in deposits} | {w.tx_hash for w in withdrawals}
    tx_info: dict[str, TxInfo] = {}
    for h, tx in source.transactions(sorted(wanted)):
        if tx:
            legacy = _int(tx.get("type", "0x0")) == 0
            tx_info[h] = TxInfo(legacy=legacy, gas_price=_int(tx.get("gasPrice", "0x0")))
    direct: dict[tuple[str, str], int] = {}
    for depositor in {d.depositor for d in deposits}:
        direct.update(store.direct_transfer_counts(depositor))
    links = propose_links(deposits, withdrawals, window, direct, tx_info)
    store.save_links(links)
    return links
