"""The case report as one self-contained HTML file.

It must open anywhere without a network (an exchange's compliance desk may
read it offline) and must be safe to open although it is full of strings
written by attackers (token names, memos, labels). So:
- cytoscape.js and its dagre layout (cytoscape-dagre) are inlined from the
  copies `scripts/install-tools.sh` installs from npm (tracer/vendor/);
  nothing is fetched when the file is written or opened;
- every on-chain or dataset string in the page is HTML-escaped by Python,
  and the script only ever puts strings into the page as text (textContent),
  never as markup; links are built only from well-formed addresses/hashes;
- the data travels as JSON inside a non-executed script element, with <, >
  and & escaped so that "</script>" in a memo cannot end it;
- a Content-Security-Policy allows exactly the inline scripts and style of
  this file (by hash) and nothing else: no fetches, no frames, no forms.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from html import escape
from importlib import resources
from pathlib import Path

from .case_report import address_link, tx_link
from .errors import TracerError
from .report import traced_btc, traced_eth
from .safe_text import for_terminal

VENDOR_FILES = ("cytoscape.min.js", "cytoscape-dagre.min.js")  # the graph library, then its layered layout


class ReportAssetError(TracerError):
    """The graph library was not installed with the tools."""


def vendor_sources() -> list[str]:
    try:
        return [resources.files("tracer").joinpath("vendor", name).read_text(encoding="utf-8")
                for name in VENDOR_FILES]
    except (FileNotFoundError, OSError):
        raise ReportAssetError(
            "the HTML report needs cytoscape.js and cytoscape-dagre, installed with the tools: run "
            "scripts/install-tools.sh (or use --format md)") from None


def text(value: object) -> str:
    """Untrusted text for HTML: control characters and escape sequences made visible, mixed scripts
    marked (see safe_text), then escaped."""
    return escape(for_terminal("" if value is None else str(value)), quote=True)


def _json_for_script(data: dict) -> str:
    raw = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


def _link(url: str, label: str) -> str:
    return f'<a href="{escape(url, quote=True)}" rel="noreferrer noopener">{label}</a>' if url else label


STYLE = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
header{padding:14px 20px;background:#1d2330;color:#fff}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c8cfdb}main{padding:0 20px 40px}section{margin-top:22px}
h2{font-size:17px;border-bottom:1px solid #dde1e7;padding-bottom:4px}
#graph-wrap{display:flex;gap:12px;align-items:stretch}
#cy{position:relative;flex:1;height:620px;border:1px solid #dde1e7;background:#fff;border-radius:4px}
#details{width:340px;border:1px solid #dde1e7;background:#fff;border-radius:4px;padding:10px;overflow:auto;
height:600px;font-size:13px;word-break:break-all}
#details h3{margin:0 0 6px;font-size:15px}#details dt{font-weight:600;margin-top:6px}#details dd{margin:0}
.controls{display:flex;flex-wrap:wrap;gap:14px;align-items:center;margin:8px 0}
.controls label{display:flex;gap:6px;align-items:center}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #dde1e7;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef1f5}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
.legend{display:flex;flex-wrap:wrap;gap:10px;font-size:12px}.legend span{display:flex;gap:4px;align-items:center}
.swatch{width:11px;height:11px;border-radius:50%;display:inline-block}.swatch.line{height:4px;border-radius:2px}
.muted{color:#6b7280}.warn{color:#a33}
""".strip()

def chart_script() -> str:
    """The page's own script (tracer/chart.js): the flow chart, its filters, folding, search, widest path
    and exports."""
    return resources.files("tracer").joinpath("chart.js").read_text(encoding="utf-8")


def render_html(report: dict) -> str:
    g = report["graph"]
    hop_options = "".join(f'<option value="{h}"{" selected" if h == g["max_hop"] else ""}>{h}</option>'
                          for h in range(0, g["max_hop"] + 1))
    asset_options = '<option value="">all assets</option>' + "".join(
        f'<option value="{text(a)}">{text(a)}</option>' for a in g["assets"])
    categories = sorted({n["category"] for n in g["nodes"]})
    colours = {n["category"]: n["colour"] for n in g["nodes"]}
    legend = "".join(f'<span><i class="swatch" data-colour="{escape(colours[c])}"></i>{text(c)}</span>'
                     for c in categories)
    asset_colours = g.get("asset_colours", {})
    edge_legend = "".join(f'<span><i class="swatch line" data-colour="{escape(asset_colours[a])}"></i>{text(a)}</span>'
                          for a in sorted(asset_colours))
    crossing_legend = ('<span>dotted purple: a bridge crossing into Bitcoin; Bitcoin\'s lane is drawn below</span>'
                       if "btc" in g.get("lanes", []) else "")
    body = f"""
<header><h1>tracer report — {text(report["store"])}</h1>
<p>Generated {text(report["generated_at"])} · taint model: {text(report["taint_model"])} ·
{g["total_nodes"]:,} addresses, {g["total_edges"]:,} transfers in the store's graph</p></header>
<main>
<section id="graph"><h2>Flow chart</h2>
<p id="chart-summary">{chart_summary(g)}</p>
<div class="controls">
<label>search <input id="f-search" type="search" placeholder="address or label" size="28"></label>
<span id="search-count" class="muted"></span>
<label>up to hop <select id="f-hop">{hop_options}</select></label>
<label>asset <select id="f-asset">{asset_options}</select></label>
<label>minimum amount (each edge's own token) <input id="f-min" type="number" min="0" step="any" value="0"></label>
<label>from (UTC) <input id="f-from" type="date" value="{g["first_day"]}" min="{g["first_day"]}" max="{g["last_day"]}"></label>
<label>to <input id="f-to" type="date" value="{g["last_day"]}" min="{g["first_day"]}" max="{g["last_day"]}"></label>
<label><input id="f-fold" type="checkbox" checked> fold fan-outs</label>
<label><input id="f-poison" type="checkbox"> show address-poisoning spam</label>
<button id="export-png" type="button">PNG</button><button id="export-svg" type="button">SVG</button>
<span id="visible-count" class="muted"></span>
</div>
<div class="legend"><b>nodes</b>{legend}<span>shapes: star seed, rounded box exchange or service, diamond bridge,
octagon mixer, hexagon DEX, tag destination; double border: a folded fan-out (click to open)</span></div>
<div class="legend"><b>edges</b>{edge_legend}<span>dashed: poisoning</span>{crossing_legend}<span>width: traced value (ETH and
ETH-pegged tokens; other tokens and Bitcoin drawn thin); red: the widest path from the seeds to the node clicked</span></div>
<div id="graph-wrap"><div id="cy"></div><div id="details"><p class="muted">Click a node (its details, and the widest
path the traced value took to it) or an edge (its transactions).</p></div></div>
</section>
{_news_html(report["news"])}
{_exits_html(report["exits"])}
{_seeds_html(report["seeds"])}
{_params_html(report)}
</main>"""
    data_json = _json_for_script(report_for_browser(report))
    swatch_css = "".join(f'.swatch[data-colour="{c}"]{{background:{c}}}'
                         for c in sorted(set(colours.values()) | set(asset_colours.values())))
    # cytoscape injects its own <style> unless one with this id exists (which the CSP would block): ours is it
    style = STYLE + swatch_css + ".__________cytoscape_container{position:relative}"
    libraries, script = vendor_sources(), chart_script()
    # Style attributes are allowed (cytoscape sizes its canvases with them; none carries untrusted text:
    # the script sets text with textContent only); style elements and scripts only by hash.
    hashes = " ".join(_sha256(source) for source in (*libraries, script))
    csp = (f"default-src 'none'; script-src {hashes}; "
           f"style-src {_sha256(style)}; style-src-elem {_sha256(style)}; style-src-attr 'unsafe-inline'; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{escape(csp, quote=True)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tracer report — {text(report["store"])}</title>
<style id="__________cytoscape_stylesheet">{style}</style>
</head><body>{body}
<script type="application/json" id="tracer-data">{data_json}</script>
{"".join(f"<script>{source}</script>" for source in libraries)}
<script>{script}</script>
</body></html>
"""


def chart_summary(g: dict) -> str:
    """What the chart draws, and what it folds or cuts, and why (HTML)."""
    drawn, total = len(g["nodes"]), g["total_nodes"]
    lane = ", Bitcoin in its own lane below" if "btc" in g.get("lanes", []) else ""
    parts = [f"Drawn: {drawn:,} of {total:,} addresses, left to right as the value moved (the columns follow "
             f"the transfers, mostly the hops; a node's hop is in its details){lane}, with {len(g['edges']):,} "
             "edges: the transfers of one token between two addresses are one edge, summed, with their count and "
             "dates (UTC)."]
    if drawn < total:
        parts.append(f'<span class="warn">Cut: {total - drawn:,} addresses are not drawn (<code>--max-nodes '
                     f'{g["max_nodes"]:,}</code>): the seeds and the addresses the most traced value reached are '
                     'kept; <code>tracer export</code> has them all.</span>')
    if drawn > 5_000:
        parts.append('<span class="warn">More than 5,000 addresses drawn: the layout takes seconds and the chart '
                     'is slow to move; a smaller <code>--max-nodes</code> keeps it readable.</span>')
    if g["folds"]:
        members = sum(len(f["members"]) for f in g["folds"])
        groups = len(g["folds"])
        parts.append(f"Folded: {groups:,} fan-out or fan-in group{'s' if groups != 1 else ''} ({g['fold_min']} or "
                     "more alike transfers: one sender or receiver, one token, amounts within a factor of two, to "
                     "plain addresses of one hop; exits and services are never folded) drawn as one node each, "
                     f"holding {members:,} addresses; click a group to open it.")
    parts.append("Address-poisoning spam is hidden until asked for.")
    return " ".join(parts)


def report_for_browser(report: dict) -> dict:
    """What the page's script needs: the graph, with untrusted text already made visible-safe
    (control characters, escape sequences) — the script still inserts it only as text."""
    g = report["graph"]
    nodes = [{**n, "name": for_terminal(n["name"]), "label": for_terminal(n["label"]),
              "label_source": for_terminal(n["label_source"]),
              "flags": for_terminal(n["flags"]),
              "totals": [{**t, "asset": for_terminal(t["asset"])} for t in n["totals"]]} for n in g["nodes"]]
    edges = [{**e, "asset": for_terminal(e["asset"]), "flags": for_terminal(e["flags"])} for e in g["edges"]]
    folds = [{**f, "asset": for_terminal(f["asset"])} for f in g["folds"]]
    return {"graph": {**g, "nodes": nodes, "edges": edges, "folds": folds,
                      "assets": [for_terminal(a) for a in g["assets"]]},
            "taint_model": report["taint_model"]}


def _moved(amounts: list[dict]) -> str:
    return ", ".join(f"{a['display']} {text(a['asset'])}" for a in amounts)


def _code_link(url: str, value: str) -> str:
    return _link(url, f"<code>{text(value)}</code>")


def _news_html(news: dict) -> str:
    if news["run_id"] is None:
        return '<section id="news"><h2>What is new</h2><p class="muted">No run yet.</p></section>'
    since = f"run {news['previous_run_id']}" if news["previous_run_id"] else "the start of the case"
    rows = "".join(
        f'<tr><td class="num">{h["hop"]}</td><td class="num">{h["new_transfers"]:,}</td>'
        f'<td class="num">{h["new_addresses"]:,}</td><td class="num">{h["poison_transfers"]:,}</td>'
        f'<td>{_moved(h["moved"]) or "—"}</td></tr>'
        for h in news["hops"])
    table = ('<table><tr><th>hop</th><th>new transfers</th><th>new addresses</th><th>poisoning (ignored)</th>'
             f'<th>moved</th></tr>{rows}</table>') if rows else "<p>Nothing new.</p>"
    exits = "".join(
        f'<li>{text(e["category"])} {_code_link(address_link(e["address"]), e["address"])} {text(e["label"])}: '
        f'{_moved(e["moved"])}{" → " + text(e["destination"]) if e["destination"] else ""} '
        f'(tx {_code_link(tx_link(e["tx_hash"]), e["tx_hash"])})</li>'
        for e in news["new_exits"])
    dormant = "".join(
        f'<li>{_code_link(address_link(d["address"]), d["address"])} (hop {d["hop"]}, idle {d["idle_days"]} days): '
        f'{_moved(d["moved"])} (first tx {_code_link(tx_link(d["first_tx_hash"]), d["first_tx_hash"])})</li>'
        for d in news["dormant_moved"])
    attributed = "".join(
        f'<li>{_code_link(address_link(m["address"]), m["address"])} ({text(m["sources"])}): {_moved(m["moved"])} '
        f'(first tx {_code_link(tx_link(m["first_tx_hash"]), m["first_tx_hash"])})</li>'
        for m in news.get("attributed_moved", []))
    return (f'<section id="news"><h2>What is new in run {news["run_id"]} (since {since})</h2>'
            + (f"<h3>Attributed addresses that moved</h3><ul>{attributed}</ul>" if attributed else "") + table
            + (f"<h3>Exits reached for the first time</h3><ul>{exits}</ul>" if exits else "")
            + (f"<h3>Dormant funds that moved</h3><ul>{dormant}</ul>" if dormant else "")
            + "</section>")


def _destination(d: dict) -> str:
    if d["dest_address"]:
        memo = f'<div class="muted">memo <code>{text(d["memo"])}</code></div>' if d["memo"] else ""
        return (f'<div>→ {text(d["dest_chain"])}:<code>{text(d["dest_address"])}</code> ({text(d["dest_asset"])}, '
                f'tx {_code_link(tx_link(d["tx_hash"]), d["tx_hash"])})</div>{memo}')
    return f'<div class="warn">undecoded ({text(d["flags"])}): memo {text(d["memo"])}</div>'


def _exits_html(exits: list[dict], limit: int = 200) -> str:
    rows = []
    for r in exits[:limit]:
        dests = "".join(_destination(d) for d in r["destinations"] if d["dest_address"] or d["flags"])
        rows.append(
            f'<tr><td class="num">{r["rank"]}</td><td class="num">{traced_eth(r)}</td>'
            f'<td class="num">{traced_btc(r)}</td>'
            f'<td>{text(r["kind"])}</td><td>{_code_link(address_link(r["address"]), r["address"])}</td>'
            f'<td>{text(r["label"])}<div class="muted">{text(r["label_source"])}</div>{dests}</td>'
            f'<td class="num">{r["hop"]}</td></tr>')
    more = f'<p class="muted">{len(exits) - limit:,} more: <code>tracer exits --csv</code></p>' \
        if len(exits) > limit else ""
    body = "".join(rows) or '<tr><td colspan="7">No exits yet.</td></tr>'
    return ('<section id="exits"><h2>Exits, ranked by traced value (ETH and ETH-pegged tokens; Bitcoin by the ETH '
            'it crossed as)</h2>'
            '<table><tr><th>#</th><th>traced ETH</th><th>traced BTC</th><th>kind</th><th>address</th><th>label, source, decoded '
            f'destinations</th><th>hop</th></tr>{body}</table>{more}</section>')


def _source(src: dict) -> str:
    date = f" ({text(src['date'])})" if src["date"] else ""
    return _link(src["url"] or "", text(src["name"])) + date


def _seeds_html(seeds: list[dict]) -> str:
    rows = "".join(
        f'<tr><td>{_code_link(s["link"], s["address"])}</td><td>{text(s["label"])}</td>'
        f'<td>{text(s["role"])}</td><td>{text(s["attribution"])}</td>'
        f'<td>{"<br>".join(_source(src) for src in s["sources"])}</td></tr>' for s in seeds)
    return ('<section id="seeds"><h2>Seeds and their sources</h2><table><tr><th>address</th><th>label</th>'
            f'<th>role</th><th>attribution</th><th>sources</th></tr>{rows}</table></section>')


def _params_html(report: dict) -> str:
    params = "".join(f"<tr><th>{text(k)}</th><td><code>{text(json.dumps(v))}</code></td></tr>"
                     for k, v in sorted(report["parameters"].items()))
    runs = "".join(
        f'<tr><td class="num">{r["id"]}</td><td>{text(r["status"])}</td>'
        f'<td>{_when(r["started_at"])}</td><td class="num">{r["head_block"] if r["head_block"] is not None else ""}</td>'
        f'<td class="num">{r["requests"] or 0}</td><td class="num">{r["new_transfers"] or 0}</td>'
        f'<td class="num">{r["new_addresses"] or 0}</td></tr>' for r in report["runs"])
    return (f'<section id="parameters"><h2>Run parameters (run {report["last_run"]["id"] if report["last_run"] else "—"})'
            f'</h2><table>{params}</table><h3>Runs</h3><table><tr><th>run</th><th>status</th><th>started (UTC)</th>'
            f'<th>head block</th><th>requests</th><th>new transfers</th><th>new addresses</th></tr>{runs}</table>'
            '</section>')


def _when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) if epoch else ""


def write_html(report: dict, out: str | Path) -> Path:
    path = Path(out)
    path.write_text(render_html(report), encoding="utf-8")
    return path
