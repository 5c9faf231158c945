"""Benchmark: trace the real Bybit fixture through a local Etherscan-shaped server with added latency.

Measures what the analyst waits for against a rate-limited public API:
requests sent, wall time, achieved request rate, and rate-limit answers.

    .venv/bin/python benchmarks/explorer_fixture.py --rate 5 --latency 0.2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from explorer_server import Chain, ExplorerServer  # noqa: E402
from tracing import trace_subprocess  # noqa: E402

SEED = "0x47666Fab8bd0Ac7003bce3f5C3585383F09486E2"


def _idle_gaps(arrivals: list[tuple[float, str]], interval: float) -> list[str]:
    """Where the client left the allowed rate unused: gaps between requests longer than 1.5 intervals,
    with the action before and after (what waited for what)."""
    out = []
    for (t0, a0), (t1, a1) in zip(arrivals, arrivals[1:]):
        if t1 - t0 > 1.5 * interval:
            out.append(f"{t1 - t0:.2f}s {a0}->{a1}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=5.0, help="tracer --rate (calls/s)")
    ap.add_argument("--latency", type=float, default=0.2, help="seconds the server adds to every answer")
    ap.add_argument("--server-limit", type=float, default=None,
                    help="calls/s the server allows before answering Etherscan's rate-limit body (default: rate)")
    ap.add_argument("--hops", type=int, default=3)
    ap.add_argument("--dialect", default="etherscan-paid",
                    choices=["etherscan-paid", "etherscan-free-clamp", "etherscan-free-window", "blockscout",
                             "blockscout-pro"], help="which service the local server speaks, as the notes document it")
    ap.add_argument("--flood", type=int, default=0,
                    help="poisoning rows sent to look-alikes before the hop-1 consolidation wallet's first outflow")
    ap.add_argument("--detect", action="store_true",
                    help="let the client detect the dialect from the loopback host's first answer (not for PRO)")
    ap.add_argument("--timeline", action="store_true", help="print when each request reached the server")
    ap.add_argument("--out", type=Path, default=None, help="JSON result (default: benchmarks/results/...)")
    args = ap.parse_args()
    chain = Chain.from_fixtures()
    if args.flood:
        from test_dialects import _flood
        from conftest import HOP1_CONSOLIDATION, HOP2_FORWARD

        _flood(chain, HOP1_CONSOLIDATION, HOP2_FORWARD, args.flood, 21895320, 21895380)
    limit = args.server_limit if args.server_limit is not None else args.rate
    # the dialect is named, as the real services' hosts name it (a loopback host would be detected first: one
    # more request than a user of api.etherscan.io or eth.blockscout.com sends; --detect measures that path)
    server_options, env, extra = {
        "etherscan-paid": ({"dialect": "etherscan", "api_key": "K"}, {"ETHERSCAN_API_KEY": "K"}, "etherscan"),
        "etherscan-free-clamp": ({"dialect": "etherscan", "api_key": "K", "tier": "free-clamp"},
                                 {"ETHERSCAN_API_KEY": "K"}, "etherscan"),
        "etherscan-free-window": ({"dialect": "etherscan", "api_key": "K", "tier": "free-window"},
                                  {"ETHERSCAN_API_KEY": "K"}, "etherscan"),
        "blockscout": ({"dialect": "blockscout"}, {"ETHERSCAN_API_KEY": ""}, "blockscout"),
        "blockscout-pro": ({"dialect": "blockscout-pro", "api_key": "proapi_k"}, {"BLOCKSCOUT_API_KEY": "proapi_k"},
                           "blockscout-pro"),
    }[args.dialect]
    extra = () if args.detect and args.dialect != "blockscout-pro" else ("--explorer-dialect", extra)
    with ExplorerServer(chain, latency=args.latency, rate_limit=limit, **server_options) as server, \
            tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        summary, wall = trace_subprocess(server.url, db, SEED, args.rate, args.hops, extra, env)
        result = {
            "dialect": args.dialect, "flood": args.flood,
            "rate": args.rate, "latency_s": args.latency, "server_limit": limit, "hops": args.hops,
            "requests": summary["requests"], "server_saw": len(server.log),
            "server_rate_limited": server.rate_limited, "client_rate_limited": summary["rate_limited"],
            "followed_addresses": summary["followed_addresses"], "reached_addresses": summary["reached_addresses"],
            "trace_seconds": summary["seconds"], "wall_seconds": round(wall, 2),
            "achieved_rate": round(summary["requests"] / summary["seconds"], 2),
            "idle_gaps": _idle_gaps(server.arrivals, 1.0 / args.rate),
        }
    if args.timeline:
        t0 = server.arrivals[0][0] if server.arrivals else 0.0
        for t, action in server.arrivals:
            print(f"{t - t0:7.2f}  {action}")
    args.out = args.out or ROOT / "benchmarks" / "results" / f"explorer_fixture-{args.dialect}.json"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    width = max(len(k) for k in result)
    for k, v in result.items():
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
