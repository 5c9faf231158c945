"""Benchmark: one trace from an Ethereum THORChain deposit (anvil) into Bitcoin (the local Esplora server), at
the keyless rate of blockstream.info (700 requests/hour) by default: requests per followed Bitcoin address and
the wall time an analyst waits.

    .venv/bin/python benchmarks/btc_leg.py                 # --btc-rate 0.1944 (700/hour), latency 0.3 s
    .venv/bin/python benchmarks/btc_leg.py --btc-rate 5    # a self-hosted esplora
    .venv/bin/python benchmarks/btc_leg.py --scenario case # the crossing, then a peel chain, a CoinJoin, an
                                                           # exchange's deposit address and a service's busy one
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import scenario  # noqa: E402
from anvil import Anvil  # noqa: E402
from esplora_server import EsploraServer  # noqa: E402
from btc_helpers import p2pkh  # noqa: E402
from esplora_server import HEIGHT0  # noqa: E402
from test_bitcoin_leg import DEST, build_btc  # noqa: E402

ETHER = 10**18
PEEL_STEPS = 8


def build_case(deposit: str, labels: Path):
    """The crossing of build_btc, and from `joined` on: a peel chain of PEEL_STEPS payments off a change that goes
    on at one hop, its end mixed in a Whirlpool CoinJoin; the first peel is an exchange's deposit address (in a
    labels file), the second a busy service address (more transactions than --max-degree), never paged."""
    btc, a = build_btc(deposit)
    exchange, busy = p2pkh("exchange-deposit"), p2pkh("busy-service")
    labels.write_text(json.dumps({"labels": [{"address": exchange, "label": "Exchange deposit (benchmark)",
                                              "category": "exchange", "source": "benchmarks/btc_leg.py"}]}))
    for i in range(40):  # the service's other business
        btc.spend([(btc.coinbase(p2pkh(f"client{i}"), 100_000, HEIGHT0 + 5), 0)], [(busy, 99_000)], HEIGHT0 + 6)
    coin, value, height = (a["join_tx"], 0), 2 * 10**8 + 14_990_000, HEIGHT0 + 8  # `joined`'s coin
    for i in range(PEEL_STEPS):
        pay = 1_000_000
        value -= pay + 1_000
        to = exchange if i == 0 else busy if i == 1 else p2pkh(f"peel-payee{i}")
        txid = btc.spend([coin], [(to, pay), (p2pkh(f"link{i}"), value)], height + i)
        coin = (txid, 1)
    entry = btc.spend([coin], [(p2pkh("mix-entry"), 1_000_050), (p2pkh("chain-end"), value - 1_002_050)],
                      height + PEEL_STEPS)
    peers = [btc.coinbase(p2pkh(f"peer{i}"), 1_000_050, height) for i in range(4)]
    btc.spend([(entry, 0)] + [(p, 0) for p in peers], [(p2pkh(f"mixed{i}"), 1_000_000) for i in range(5)],
              height + PEEL_STEPS + 1)
    return btc, a


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--btc-rate", type=float, default=700 / 3600)
    ap.add_argument("--latency", type=float, default=0.3)
    ap.add_argument("--variant", default="blockstream", choices=["blockstream", "mempool"])
    ap.add_argument("--scenario", default="crossing", choices=["crossing", "case"])
    args = ap.parse_args()
    seed, vault = scenario.addr("btc-seed"), scenario.addr("btc-thor-vault")
    with Anvil(chain_id=1) as home, tempfile.TemporaryDirectory() as tmp:
        b = scenario.Builder(home)
        b.fund(seed, 100 * ETHER)
        deposit = b.send(seed, vault, 5 * ETHER, data="0x" + f"=:BTC.BTC:{DEST}".encode().hex())
        labels = Path(tmp) / "labels.json"
        btc, _ = build_btc(deposit) if args.scenario == "crossing" else build_case(deposit, labels)
        with EsploraServer(btc, args.variant, latency=args.latency) as server:
            db = Path(tmp) / "case.db"
            cmd = [sys.executable, "-c", "import cli; cli.main()", "trace", seed, "--db", str(db), "--rpc-url",
                   home.url, "--follow-btc", "--btc-url", server.url, "--btc-rate", str(args.btc_rate), "--hops", "4",
                   "--json", "--quiet"]
            if args.scenario == "case":
                cmd[3:3] = ["--labels", str(labels)]  # (a group option: before the command)
                cmd[-2:-2] = ["--max-degree", "30"]
                cmd[cmd.index("--hops") + 1] = "6"
            t0 = time.monotonic()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            wall = time.monotonic() - t0
            if proc.returncode != 0:
                sys.exit(proc.stderr)
            summary = json.loads(proc.stdout)
            first_log = list(server.log)
            server.log.clear()
            t1 = time.monotonic()
            again = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)  # a quiet night
            rerun_wall = time.monotonic() - t1
            if again.returncode != 0:
                sys.exit(again.stderr)
            rerun_requests = len(server.log)
            server.log[:] = first_log
            conn = sqlite3.connect(db)
            followed = conn.execute("SELECT COUNT(*) FROM addresses WHERE followed=1 AND address LIKE 'btc:%'"
                                    ).fetchone()[0]
            conn.close()
            exits = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "exits", "--db", str(db),
                                    "--json"], capture_output=True, text=True, cwd=ROOT)
            ends = Counter(r["kind"] for r in json.loads(exits.stdout) if r["asset"] == "BTC")
            kinds = Counter(p.split("/")[2] + ("/txs/chain" if "/txs/chain" in p else "") for p in server.log)
    btc_requests = len(server.log)
    print(json.dumps({"scenario": args.scenario, "btc_rate": args.btc_rate, "latency_s": args.latency,
                      "variant": args.variant,
                      "btc_requests": btc_requests, "followed_btc_addresses": followed,
                      "requests_per_followed_btc_address": round(btc_requests / followed, 2) if followed else None,
                      "by_kind": dict(kinds), "btc_exits": dict(ends), "trace_seconds": summary["seconds"], "wall_seconds": round(wall, 1),
                      "rerun_btc_requests": rerun_requests, "rerun_wall_seconds": round(rerun_wall, 1)},
                     indent=2))


if __name__ == "__main__":
    main()
