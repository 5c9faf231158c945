"""Benchmark: RPC calls and wall time of a trace on anvil against the frontier size.

Lays a 2,000-address, 10,000-transfer layered graph (frontiers of 10, 100
and 1,000 addresses at hops 1, 2 and 3), then traces it with --hops 1..4
through a counting JSON-RPC proxy. The getLogs and trace_filter calls per hop
should depend on ceil(frontier / chunk) and the block-range pieces only.

    .venv/bin/python benchmarks/rpc_frontier.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from anvil import Anvil  # noqa: E402
from rpc_proxy import RpcProxy  # noqa: E402
from synthetic_chain import lay  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", default="10,10,10", help="fan-out per layer (frontiers are their products)")
    ap.add_argument("--transfers", type=int, default=10_000)
    ap.add_argument("--addresses", type=int, default=2_000)
    ap.add_argument("--chunk-size", type=int, default=500)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "rpc_frontier.json")
    args = ap.parse_args()
    widths = tuple(int(w) for w in args.widths.split(","))
    rows = []
    with Anvil(extra_args=("--no-mining", "--order", "fifo", "--gas-limit", "100000000")) as node:
        t0 = time.monotonic()
        chain = lay(node, widths, args.transfers, args.addresses)
        lay_seconds = time.monotonic() - t0
        print(f"laid {chain.transfers} transfers over {len(chain.addresses)} addresses in {lay_seconds:.1f} s",
              file=sys.stderr)
        with RpcProxy(node.url) as proxy, tempfile.TemporaryDirectory() as tmp:
            for hops in range(1, len(widths) + 2):
                proxy.log.clear()
                proxy.http_requests = 0
                db = Path(tmp) / f"h{hops}.db"
                cmd = [sys.executable, "-c", "import cli; cli.main()", "trace", chain.seed, "--db", str(db),
                       "--source", "rpc", "--rpc-url", proxy.url, "--hops", str(hops), "--json", "--quiet",
                       "--rpc-rate", "1000", "--chunk-size", str(args.chunk_size), "--max-degree", "100000"]
                t = time.monotonic()
                run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                wall = time.monotonic() - t
                if run.returncode != 0:
                    sys.exit(run.stderr)
                summary = json.loads(run.stdout)
                methods = Counter(m for m, _ in proxy.log)
                rows.append({
                    "hops": hops,
                    "frontier_last_hop": summary["hops"][-2]["followed"] if len(summary["hops"]) > 1
                    else summary["hops"][-1]["followed"],
                    "followed": summary["followed_addresses"], "reached": summary["reached_addresses"],
                    "transfers": summary["new_transfers"],
                    "rpc_calls": sum(methods.values()), "http_requests": proxy.http_requests,
                    "eth_getLogs": methods["eth_getLogs"], "trace_filter": methods["trace_filter"],
                    "eth_getCode": methods["eth_getCode"], "wall_s": round(wall, 2),
                })
    header = list(rows[0])
    print("  ".join(f"{h:>12}" for h in header))
    for r in rows:
        print("  ".join(f"{r[h]:>12}" for h in header))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"widths": widths, "lay_seconds": round(lay_seconds, 1),
                                    "chain_transfers": chain.transfers, "chain_addresses": len(chain.addresses),
                                    "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
