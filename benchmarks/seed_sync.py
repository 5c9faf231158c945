"""Benchmark: `tracer seeds sync` of a full-size LazarusBounty feed (12,000 Ethereum + 12,000 Bitcoin entries with
every known quirk) served by a local HTTP server; then the same document again (nothing changed), and a third
sync after 1% of the entries were replaced.

    .venv/bin/python benchmarks/seed_sync.py
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from helpers import run_cli  # noqa: E402
from test_seed_sync import FeedServer, _p2pkh, full_size_feed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "seed_sync.json")
    args = ap.parse_args()
    doc, expected = full_size_feed()
    server = FeedServer()
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "seeds.db"
            url = server.serve("/hack-address.json", json.dumps(doc).encode())
            for name in ("first sync", "same document", "1% replaced"):
                if name == "1% replaced":
                    btc = doc["0221"]["btc"]
                    for i in range(120):
                        btc[1000 + i] = _p2pkh(500_000 + i)
                    server.serve("/hack-address.json", json.dumps(doc).encode())
                t0 = time.monotonic()
                result = run_cli("seeds", "sync", "--url", url, "--db", db, "--json")
                seconds = time.monotonic() - t0
                if result.exit_code != 0:
                    sys.exit(result.output)
                out = json.loads(result.stdout)
                results[name] = {"seconds": round(seconds, 2), "seeds": out["seeds"], "added": out["added"],
                                 "removed": out["removed"]}
    finally:
        server.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"full-size feed: {expected} distinct valid seeds")
    for name, r in results.items():
        print(f"{name:<15} {r['seconds']:>6.2f} s  seeds {r['seeds']}  +{r['added']} -{r['removed']}")


if __name__ == "__main__":
    main()
