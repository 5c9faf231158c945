"""Run `tracer trace` as a user would, in its own process, for the explorer benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def trace_subprocess(explorer_url: str, db: Path, seed: str, rate: float, hops: int, extra: tuple = (),
                     env: dict | None = None) -> tuple[dict, float]:
    """(the --json summary, wall seconds); exits the benchmark with the error line if the trace fails."""
    import os

    cmd = [sys.executable, "-c", "import cli; cli.main()", "trace", seed, "--db", str(db), "--explorer-url",
           explorer_url, "--rate", str(rate), "--hops", str(hops), "--json", "--quiet", *extra]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"trace failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout), wall
