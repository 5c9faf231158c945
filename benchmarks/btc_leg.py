"""Benchmark: one trace from an Ethereum THORChain deposit (anvil) into Bitcoin (the local Esplora server), at
the keyless rate of blockstream.info (700 requests/hour) by default: requests per followed Bitcoin address and
the wall time an analyst waits.

    .venv/bin/python benchmarks/btc_leg.py                 # --btc-rate 0.1944 (700/hour), latency 0.3 s
    .venv/bin/python benchmarks/btc_leg.py --btc-rate 5    # a self-hosted esplora
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
from test_bitcoin_leg import DEST, build_btc  # noqa: E402

ETHER = 10**18


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--btc-rate", type=float, default=700 / 3600)
    ap.add_argument("--latency", type=float, default=0.3)
    ap.add_argument("--variant", default="blockstream", choices=["blockstream", "mempool"])
    args = ap.parse_args()
    seed, vault = scenario.addr("btc-seed"), scenario.addr("btc-thor-vault")
    with Anvil(chain_id=1) as home, tempfile.TemporaryDirectory() as tmp:
        b = scenario.Builder(home)
        b.fund(seed, 100 * ETHER)
        deposit = b.send(seed, vault, 5 * ETHER, data="0x" + f"=:BTC.BTC:{DEST}".encode().hex())
        btc, _ = build_btc(deposit)
        with EsploraServer(btc, args.variant, latency=args.latency) as server:
            db = Path(tmp) / "case.db"
            cmd = [sys.executable, "-c", "import cli; cli.main()", "trace", seed, "--db", str(db), "--rpc-url",
                   home.url, "--follow-btc", "--btc-url", server.url, "--btc-rate", str(args.btc_rate), "--hops", "4",
                   "--json", "--quiet"]
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
            kinds = Counter(p.split("/")[2] + ("/txs/chain" if "/txs/chain" in p else "") for p in server.log)
    btc_requests = len(server.log)
    print(json.dumps({"btc_rate": args.btc_rate, "latency_s": args.latency, "variant": args.variant,
                      "btc_requests": btc_requests, "followed_btc_addresses": followed,
                      "requests_per_followed_btc_address": round(btc_requests / followed, 2) if followed else None,
                      "by_kind": dict(kinds), "trace_seconds": summary["seconds"], "wall_seconds": round(wall, 1),
                      "rerun_btc_requests": rerun_requests, "rerun_wall_seconds": round(rerun_wall, 1)},
                     indent=2))


if __name__ == "__main__":
    main()
