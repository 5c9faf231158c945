"""The case report as Markdown: the same summary as the HTML report, minus the drawing, for a
ticket, an e-mail or a repository. Untrusted text is escaped so that it stays text when the
Markdown is rendered (no links, emphasis, tables or raw HTML smuggled in by a token name)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from .report import traced_btc, traced_eth
from .safe_text import for_terminal

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|<>~])")


def md(value: object) -> str:
    return _MD_SPECIAL.sub(r"\\\1", for_terminal("" if value is None else str(value)).replace("\n", " "))


def _moved(amounts: list[dict]) -> str:
    return ", ".join(f"{a['display']} {md(a['asset'])}" for a in amounts) or "—"


def render_markdown(report: dict) -> str:
    g = report["graph"]
    out = [f"# tracer report — {md(report['store'])}", "",
           f"Generated {report['generated_at']}; taint model {report['taint_model']}; "
           f"{g['total_nodes']:,} addresses and {g['total_edges']:,} transfers in the graph.", ""]
    news = report["news"]
    out += ["## What is new", ""]
    if news["run_id"] is None:
        out += ["No run yet.", ""]
    else:
        since = f"run {news['previous_run_id']}" if news["previous_run_id"] else "the start of the case"
        out += [f"Run {news['run_id']}, since {since}.", ""]
        if news["hops"]:
            out += ["| hop | new transfers | new addresses | poisoning (ignored) | moved |", "| --- | --- | --- | --- | --- |"]
            out += [f"| {h['hop']} | {h['new_transfers']:,} | {h['new_addresses']:,} | {h['poison_transfers']:,} | "
                    f"{_moved(h['moved'])} |" for h in news["hops"]]
        else:
            out.append("Nothing new.")
        out.append("")
        for m in news.get("attributed_moved", []):
            out.append(f"- attributed address moved: `{m['address']}` ({md(m['sources'])}): {_moved(m['moved'])} "
                       f"(first tx `{m['first_tx_hash']}`)")
        for e in news["new_exits"]:
            dest = f" → {md(e['destination'])}" if e["destination"] else ""
            out.append(f"- new exit: {md(e['category'])} `{e['address']}` {md(e['label'])}: {_moved(e['moved'])}{dest} "
                       f"(tx `{e['tx_hash']}`)")
        for d in news["dormant_moved"]:
            out.append(f"- dormant funds moved: `{d['address']}` (hop {d['hop']}, idle {d['idle_days']} days): "
                       f"{_moved(d['moved'])} (first tx `{d['first_tx_hash']}`)")
        out.append("")
    out += ["## Exits, ranked by traced value", "",
            "| # | traced ETH | traced BTC | kind | address | label (source) | decoded destinations |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["exits"][:200]:
        dests = "; ".join(f"{md(d['dest_chain'])}:{md(d['dest_address'])} ({md(d['dest_asset'])}, tx `{d['tx_hash']}`"
                          + (f", memo {md(d['memo'])})" if d["memo"] else ")")
                          for d in r["destinations"] if d["dest_address"])
        source = f" ({md(r['label_source'])})" if r["label_source"] else ""
        out.append(f"| {r['rank']} | {traced_eth(r)} | {traced_btc(r)} | {md(r['kind'])} | `{r['address']}` | "
                   f"{md(r['label'])}{source} | {dests} |")
    if len(report["exits"]) > 200:
        out.append(f"\n{len(report['exits']) - 200:,} more: `tracer exits --csv`.")
    out += ["", "## Seeds and their sources", "", "| address | label | role | sources |", "| --- | --- | --- | --- |"]
    for s in report["seeds"]:
        sources = "; ".join(md(src["name"]) + (f" <{src['url']}>" if (src["url"] or "").startswith("https://") else "")
                            for src in s["sources"]) or md(s["attribution"])
        out.append(f"| `{s['address']}` | {md(s['label'])} | {md(s['role'])} | {sources} |")
    out += ["", "## Run parameters", ""]
    out += [f"- {md(k)}: `{json.dumps(v)}`" for k, v in sorted(report["parameters"].items())]
    out += ["", "| run | status | started (UTC) | requests | new transfers | new addresses |",
            "| --- | --- | --- | --- | --- | --- |"]
    for r in report["runs"]:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["started_at"])) if r["started_at"] else ""
        out.append(f"| {r['id']} | {r['status']} | {started} | {r['requests'] or 0} | {r['new_transfers'] or 0} | "
                   f"{r['new_addresses'] or 0} |")
    return "\n".join(out) + "\n"


def write_markdown(report: dict, out: str | Path) -> Path:
    path = Path(out)
    path.write_text(render_markdown(report), encoding="utf-8")
    return path
