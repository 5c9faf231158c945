"""Benchmark: watching a whole attributed case every night — 10,000 synced Ethereum seeds.

The case (tests/seed_case.py) is synced from a file in the LazarusBounty feed's shape, traced once
(`--first-rate`, no added latency: the first run is not what is measured here) and once more (the second
night fetches the token holders again, see below), then traced as a nightly job would, against an explorer answering at `--rate` calls/s with `--latency` s per answer:
(a) nothing moved, (b) `--moved` seeds sent again. For each: requests, wall time, requests per tracked
address (every address the store holds a screened balance for), and which addresses were fetched.

    .venv/bin/python benchmarks/seed_nightly.py                      # 10,000 seeds, 3 calls/s, 400 ms
    .venv/bin/python benchmarks/seed_nightly.py --seeds 1000         # a quick look

Targets (issue 14): nothing moved, <= 0.06 requests per tracked address and <= 4 minutes at 3 calls/s;
1% moved: the cost grows only by what moved.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from explorer_server import ExplorerServer  # noqa: E402
from seed_case import generate_case  # noqa: E402
from test_seed_nightly import _tracked  # noqa: E402
from tracing import trace_subprocess  # noqa: E402

CASE = "bybit-2025-02"


def _sync(db: Path, feed: Path) -> None:
    from helpers import run_cli

    result = run_cli("seeds", "sync", "--source", str(feed), "--db", str(db), "--json")
    if result.exit_code != 0:
        sys.exit(f"sync failed: {result.output}")


def run(server: ExplorerServer, db: Path, rate: float, hops: int, quiet_case: str = CASE) -> dict:
    server.log.clear()
    server.rate_limited = 0
    t0 = time.monotonic()
    summary, wall = trace_subprocess(server.url, db, f"--case={quiet_case}", rate, hops)
    actions = Counter(q.get("action") for q in server.log)
    fetched = sorted({q.get("address", "").lower() for q in server.log
                      if q.get("action") in ("txlist", "txlistinternal", "tokentx")})
    return {
        "requests": summary["requests"], "server_saw": len(server.log), "wall_s": round(wall, 1),
        "trace_s": summary["seconds"], "rate_limit_answers": server.rate_limited,
        "followed": summary["followed_addresses"], "reached": summary["reached_addresses"],
        "screened": summary["screened"], "unchanged_skipped": summary["unchanged_skipped"],
        "new_transfers": summary["new_transfers"], "by_action": dict(actions), "fetched": fetched,
        "_t": round(time.monotonic() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=3.0, help="the nightly runs' --rate and the server's limit")
    ap.add_argument("--latency", type=float, default=0.4, help="seconds added to every answer of the nightly runs")
    ap.add_argument("--first-rate", type=float, default=400.0, help="--rate of the first (populating) trace")
    ap.add_argument("--hops", type=int, default=2)
    ap.add_argument("--moved", type=float, default=0.01, help="share of the seeds that send again before (b)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "seed_nightly.json")
    args = ap.parse_args()
    t0 = time.monotonic()
    case = generate_case(args.seeds)
    print(f"case: {len(case.seeds)} seeds, {len(case.hop1)} hop-1 and {len(case.hop2)} hop-2 wallets, "
          f"{sum(len(r) for r in case.chain.records.values())} records ({time.monotonic() - t0:.1f} s)",
          file=sys.stderr)
    results: dict[str, dict] = {}
    with ExplorerServer(case.chain) as server, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "case.db"
        feed = Path(tmp) / "hack-address.json"
        feed.write_text(json.dumps(case.feed()))
        t = time.monotonic()
        _sync(db, feed)
        print(f"synced in {time.monotonic() - t:.1f} s", file=sys.stderr)
        first = run(server, db, args.first_rate, args.hops)
        first.pop("fetched")
        results["first trace (populating)"] = first
        print(f"first trace: {first['requests']} requests, {first['wall_s']} s", file=sys.stderr)
        # the night after the first run fetches the token holders again: their token balances are known only
        # once their history is (a screen read after the head the fetch ran to would vouch for blocks unread)
        settle = run(server, db, args.first_rate, args.hops)
        settle.pop("fetched")
        results["second night (settling)"] = settle
        server.latency = args.latency
        server.rate_limit = args.rate
        results["nightly, nothing moved"] = run(server, db, args.rate, args.hops)
        movers = case.seeds[:: max(1, int(1 / args.moved))][: max(1, int(len(case.seeds) * args.moved))]
        case.move(movers)
        results[f"nightly, {len(movers)} seeds moved"] = moved = run(server, db, args.rate, args.hops)
        tracked = _tracked(db)
    new_wallets = {t["to"].lower() for t in case.chain.records["txlist"] if t["from"].lower() in set(movers)}
    unexpected = sorted(set(moved["fetched"]) - set(movers) - new_wallets)
    missed = sorted(set(movers) - set(moved["fetched"]))
    print(f"tracked addresses (with a screened balance): {tracked}")
    print(f"{'run':<34}{'requests':>9}{'per tracked':>12}{'wall s':>8}{'screened':>9}{'skipped':>9}"
          f"{'new xfers':>10}{'429':>5}")
    for name, r in results.items():
        print(f"{name:<34}{r['requests']:>9}{r['requests'] / tracked:>12.4f}{r['wall_s']:>8}{r['screened']:>9}"
              f"{r['unchanged_skipped']:>9}{r['new_transfers']:>10}{r['rate_limit_answers']:>5}")
    print(f"(b) fetched {len(moved['fetched'])} addresses: {len(movers)} movers ({len(missed)} missed), the "
          f"wallets they paid, and {len(unexpected)} others {unexpected[:5]}")
    for r in results.values():
        r["fetched"] = len(r.get("fetched", []))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"params": vars(args) | {"out": str(args.out)}, "tracked": tracked,
                                    "movers": len(movers), "missed": missed, "others_fetched": unexpected,
                                    "results": results}, indent=2))


if __name__ == "__main__":
    main()
