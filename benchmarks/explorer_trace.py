"""Benchmark: a synthetic theft traced through a rate-limited, slow Etherscan-shaped server.

Full trace, then a nightly rerun with (a) no new activity and (b) 1% of the
traced wallets moving. Reports requests, wall time, achieved request rate,
rate-limit answers, and requests per followed / tracked address.

    .venv/bin/python benchmarks/explorer_trace.py --rate 5 --latency 0.4
    .venv/bin/python benchmarks/explorer_trace.py --widths 5,5 --transfers 3000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from explorer_server import ExplorerServer  # noqa: E402
from synthetic import Params, generate, move  # noqa: E402
from tracing import trace_subprocess  # noqa: E402


def run(server: ExplorerServer, db: Path, seed: str, args) -> dict:
    server.log.clear()
    server.rate_limited = 0
    summary, wall = trace_subprocess(server.url, db, seed, args.rate, args.hops)
    actions = Counter(q.get("action") for q in server.log)
    return {
        "requests": summary["requests"], "server_saw": len(server.log), "wall_s": round(wall, 1),
        "achieved_rate": round(summary["requests"] / summary["seconds"], 2) if summary["seconds"] else 0.0,
        "server_rate_limit_answers": server.rate_limited, "followed": summary["followed_addresses"],
        "reached": summary["reached_addresses"], "new_transfers": summary["new_transfers"],
        "unchanged_skipped": summary["unchanged_skipped"], "by_action": dict(actions),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--latency", type=float, default=0.4)
    ap.add_argument("--widths", default="10,10,20")
    ap.add_argument("--transfers", type=int, default=30_000)
    ap.add_argument("--hops", type=int, default=4)
    ap.add_argument("--moved", type=float, default=0.01, help="share of traced wallets that move before rerun (b)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "explorer_trace.json")
    args = ap.parse_args()
    theft = generate(Params(widths=tuple(int(w) for w in args.widths.split(",")), transfers=args.transfers))
    print(f"synthetic theft: {theft.transfers} transfers, {len(theft.addresses)} addresses, layers "
          f"{[len(layer) for layer in theft.layers]}", file=sys.stderr)
    results = {}
    with ExplorerServer(theft.chain, latency=args.latency, rate_limit=args.rate) as server, \
            tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        results["full trace"] = run(server, db, theft.seed_address, args)
        results["rerun, nothing new"] = run(server, db, theft.seed_address, args)
        moved = move(theft, args.moved)
        results[f"rerun, {moved} wallets moved"] = run(server, db, theft.seed_address, args)
    followed = results["full trace"]["followed"]
    print(f"{'run':<28}{'requests':>9}{'per followed':>14}{'wall s':>8}{'req/s':>7}{'429/limit':>10}"
          f"{'skipped':>9}{'new xfers':>10}")
    for name, r in results.items():
        print(f"{name:<28}{r['requests']:>9}{r['requests'] / followed:>14.3f}{r['wall_s']:>8}{r['achieved_rate']:>7}"
              f"{r['server_rate_limit_answers']:>10}{r['unchanged_skipped']:>9}{r['new_transfers']:>10}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"params": vars(args) | {"out": str(args.out)}, "results": results}, indent=2))


if __name__ == "__main__":
    main()
