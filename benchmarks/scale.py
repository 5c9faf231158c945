"""Benchmark: a store of 1,000,000 transfers over ~200,000 addresses, end to end.

Stages (each in its own process, so peak RSS is per stage): insert (through
Store.commit_fetch, one atomic commit per address, as a trace does), graph
(build the MultiDiGraph with taint), integrity (the quick_check a trace runs before writing), news
(what a first run announces), graphml / gexf / csv (export), show
(the busiest address), exits (ranked table), report (the HTML case report). Wall time and peak RSS.

    .venv/bin/python benchmarks/scale.py                    # 1,000,000 transfers
    .venv/bin/python benchmarks/scale.py --transfers 100000 # a quicker look
    .venv/bin/python benchmarks/scale.py --backend postgresql  # the store on a throwaway local PostgreSQL
                                                            # server (Debian's, durable: fsync on)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

PG_SETTINGS = {"shared_buffers": "4GB", "max_wal_size": "8GB", "checkpoint_timeout": "15min",
               "work_mem": "64MB", "maintenance_work_mem": "512MB"}
STAGES = ("insert", "integrity", "news", "graph", "graphml", "gexf", "csv", "neo4j", "show", "exits", "report")
# networkx's writer at a million edges takes minutes and gigabytes: compare on a smaller store with --stages compare


def widths_for(transfers: int) -> tuple[int, ...]:
    return (20, 20, 20, 25) if transfers >= 500_000 else (10, 10, 20, 10)


def stage(name: str, db: str, out_dir: Path, transfers: int) -> dict:
    from tracer.store import FLUSH_TRANSFERS, Cursor, Store

    t0 = time.monotonic()
    info: dict = {}
    if name == "insert":
        from collections import defaultdict

        from synthetic import Params, generate
        from tracer.records import parse_rows

        theft = generate(Params(widths=widths_for(transfers), transfers=transfers, spam_ratio=0.1))
        by_address: dict[str, list] = defaultdict(list)
        for action in ("txlist", "tokentx"):
            for t in parse_rows(action, theft.chain.records[action]):
                by_address[t.from_addr].append(t)
        info["generated_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        store = Store.open(db)
        run_id = store.start_run({"benchmark": "scale"})  # run 1: the news stage reads what it added
        batch, size = [], 0
        for address, items in by_address.items():  # as a trace flushes them: complete addresses, batched
            batch.append((address, items, {"txlist": Cursor(0, theft.chain.head)}))
            size += len(items)
            if size >= FLUSH_TRANSFERS:
                store.commit_fetches(batch, "bench", 1)
                batch, size = [], 0
        store.commit_fetches(batch, "bench", 1)
        store.set_trace_state({a: (1, 0, "eoa", True) for a in by_address} | {theft.seed_address: (0, 0, "seed", True)}, 1)
        store.finish_run(run_id, "ok")
        info["transfers"] = store.count_transfers()
        info["addresses"] = store.conn.execute("SELECT count(*) FROM addresses").fetchone()[0]
        store.close()
    else:
        store = Store.open(db, create=False)
        if name == "graph":
            from tracer.graph import build_graph

            g = build_graph(store)
            info["nodes"], info["edges"] = g.number_of_nodes(), g.number_of_edges()
        elif name in ("graphml", "gexf", "csv", "neo4j"):
            from tracer.graph import build_graph, export

            g = build_graph(store)
            built = time.monotonic() - t0
            target = out_dir / f"scale.{name}"
            if name == "neo4j":
                target.mkdir(exist_ok=True)
            export(g, name, target)
            info["build_s"], info["write_s"] = round(built, 1), round(time.monotonic() - t0 - built, 1)
        elif name == "compare":
            import networkx as nx

            from tracer.graph import OPTIONAL_EDGE_FIELDS, build_graph
            from tracer.graphml import write_graphml

            g = build_graph(store)
            for _, _, d in g.edges(data=True):  # what the export writes for every edge, for networkx to see too
                for f in OPTIONAL_EDGE_FIELDS:
                    d.setdefault(f, "")
                d.setdefault("confidence", 1.0)
            t1 = time.monotonic()
            write_graphml(g, out_dir / "ours.graphml")
            ours = time.monotonic() - t1
            t1 = time.monotonic()
            nx.write_graphml(g, out_dir / "networkx.graphml", named_key_ids=True)
            theirs = time.monotonic() - t1
            a = nx.read_graphml(out_dir / "ours.graphml", force_multigraph=True)
            b = nx.read_graphml(out_dir / "networkx.graphml", force_multigraph=True)
            same = (dict(a.nodes(data=True)) == dict(b.nodes(data=True))
                    and sorted(a.edges(keys=True, data=True), key=lambda e: e[2])
                    == sorted(b.edges(keys=True, data=True), key=lambda e: e[2]))
            info.update(edges=g.number_of_edges(), ours_s=round(ours, 1), networkx_s=round(theirs, 1),
                        read_back_identical=same)
        elif name == "show":
            from tracer.report import address_summary

            busiest = store.conn.execute(
                "SELECT from_addr, count(*) c FROM transfers GROUP BY from_addr ORDER BY c DESC LIMIT 1").fetchone()[0]
            t0 = time.monotonic()
            info["counterparties"] = len(address_summary(store, busiest)["counterparties"])
        elif name == "integrity":  # what every trace pays before it writes (PRAGMA quick_check)
            store.check_integrity()
        elif name == "news":  # what the first run announces: every transfer is new (the worst case)
            from tracer.news import whats_new

            news = whats_new(store)
            info["new_transfers"], info["new_exits"] = news.new_transfers, len(news.new_exits)
        elif name == "exits":
            from tracer.report import exits_table

            info["rows"] = len(exits_table(store))
        elif name == "report":
            from tracer.case_report import case_report
            from tracer.html_report import write_html

            data = case_report(store)
            write_html(data, out_dir / "scale-report.html")
            info["nodes_drawn"], info["exits"] = len(data["graph"]["nodes"]), len(data["exits"])
            info["file_mb"] = round((out_dir / "scale-report.html").stat().st_size / 2**20, 1)
        store.close()
    info["seconds"] = round(time.monotonic() - t0, 1)
    info["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transfers", type=int, default=1_000_000)
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--out", type=Path, help="default benchmarks/results/scale.json (scale-postgresql.json)")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.out = args.out or ROOT / "benchmarks" / "results" / (
        "scale.json" if args.backend == "sqlite" else f"scale-{args.backend}.json")
    if args.stage:
        print(json.dumps(stage(args.stage, args.db, args.dir, args.transfers)))
        return
    results = {}
    server = None
    if args.backend == "postgresql":
        from pg_server import PostgresServer

        # durable (fsync on), with the memory a database server is given (the defaults, 128 MB of shared
        # buffers and 1 GB of WAL between checkpoints, are a minimal install's: a million random-keyed index
        # entries then go to disk and back); see benchmarks/README.md
        server = PostgresServer(durable=True, settings=dict(PG_SETTINGS)).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = server.url_for("scale") if server else str(Path(tmp) / "scale.db")
            run_stages(args, db, Path(tmp), results)
    finally:
        if server:
            server.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"transfers": args.transfers, "backend": args.backend, "results": results},
                                   indent=2))


def run_stages(args: argparse.Namespace, db: str, out_dir: Path, results: dict) -> None:
    for name in args.stages.split(","):
        proc = subprocess.run([sys.executable, __file__, "--stage", name, "--db", db, "--dir", str(out_dir),
                               "--transfers", str(args.transfers)], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"stage {name} failed: {proc.stderr[-2000:]}")
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        for f in out_dir.glob(f"scale.{name}*"):  # a file, or the directory of the Neo4j CSVs
            size = sum(p.stat().st_size for p in f.iterdir()) if f.is_dir() else f.stat().st_size
            results[name]["file_mb"] = round(size / 2**20)
        print(f"{name:<8} {json.dumps(results[name])}", flush=True)


if __name__ == "__main__":
    main()
