"""Benchmark: the report's flow chart laid out in headless Chromium at 500 and 5,000 drawn nodes.

A theft-shaped trail (tests/chart_graphs.hop_graph: a seed splitting hop by hop, a tenth of the
addresses exchanges, some value paid back across hops; nothing alike enough to fold, so every address
is drawn) is written as a report and opened in Debian's chromium, headless, as the tests open it. The
figure is the page's own measurement of its layout (dagre, every lane, and fitting the view:
`#cy[data-layout-ms]`), on a fresh page each time; also the time until the page is ready to use
(parsing the data, building the elements, the layout). Median of --runs.

    .venv/bin/python benchmarks/report_layout.py                 # 500 and 5,000 nodes, 3 runs each
    .venv/bin/python benchmarks/report_layout.py --nodes 2000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def measure(browser, path: Path) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    t0 = time.monotonic()
    page.goto(path.as_uri(), wait_until="commit")
    page.wait_for_selector("body[data-ready='1']", timeout=600_000)
    ready = time.monotonic() - t0
    result = {"layout_ms": int(page.get_attribute("#cy", "data-layout-ms")), "ready_s": round(ready, 2),
              "drawn_nodes": page.evaluate("window.tracerReport.cy.nodes().filter(n => !n.hasClass('hidden')).length"),
              "drawn_edges": page.evaluate("window.tracerReport.cy.edges().filter(e => !e.hasClass('hidden')).length")}
    if errors:
        sys.exit(f"the page failed: {errors[0]}")
    page.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, nargs="+", default=[500, 5_000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "report_layout.json")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from chart_graphs import hop_graph, report_from_graph

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed (scripts/setup.sh installs Debian's)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        for n in args.nodes:
            path = report_from_graph(hop_graph(n), Path(tmp) / f"chart-{n}.html", max_nodes=n + 1)
            runs = [measure(browser, path) for _ in range(args.runs)]
            results[n] = {"layout_ms": statistics.median(r["layout_ms"] for r in runs),
                          "layout_ms_runs": [r["layout_ms"] for r in runs],
                          "ready_s": statistics.median(r["ready_s"] for r in runs),
                          "drawn_nodes": runs[0]["drawn_nodes"], "drawn_edges": runs[0]["drawn_edges"],
                          "file_mb": round(path.stat().st_size / 2**20, 1)}
            print(f"{n:>6} nodes  {json.dumps(results[n])}", flush=True)
        browser.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
