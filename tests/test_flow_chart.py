"""The report's flow chart, in headless Chromium, on the real Bybit records (first two hops): labels on
every node and edge, the exploiter's 40 × 10,000 ETH fan-out folded and opened, the widest path to each
exit, the date filter, search, PNG and SVG exports, and a layout that is the same from run to run.

What the page shows is checked against the report's own data with independent Python (amount
formatting, widest paths with networkx), not against the page's script.
"""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import networkx as nx

import test_report
from conftest import EXPLOITER
from test_report import _open

case, browser = test_report.case, test_report.browser  # the report tests' traced case and headless chromium

ETHER = 10**18


def _data(html_path) -> dict:
    html = html_path.read_text(encoding="utf-8")
    raw = re.search(r'<script type="application/json" id="tracer-data">(.*?)</script>', html, re.S).group(1)
    return json.loads(raw)["graph"]


def _short(units: int, decimals: int) -> str:
    """The chart's shortened amount: grouped thousands, four decimals (three significant digits below 1),
    "≈" when digits were dropped."""
    whole, frac = divmod(units, 10**decimals)
    digits = str(frac).rjust(decimals, "0") if decimals else ""
    keep = len(digits) - len(digits.lstrip("0")) + 3 if whole == 0 and frac else 4
    shown = digits[:keep].rstrip("0")
    approx = "≈" if digits[keep:].strip("0") else ""
    return f"{approx}{whole:,}" + (f".{shown}" if shown else "")


def _drawn(page, what: str) -> list[dict]:
    return page.evaluate(f"window.tracerReport.cy.{what}().filter(e => !e.hasClass('hidden')).map(e => e.data())")


def test_every_drawn_node_and_edge_is_labelled(case, browser):
    g = _data(case["html"])
    nodes = {n["id"]: n for n in g["nodes"]}
    edges = {e["id"]: e for e in g["edges"]}
    page, seen = _open(browser, case["html"])
    try:
        drawn_nodes = _drawn(page, "nodes")
        assert len(drawn_nodes) > 5
        for d in drawn_nodes:
            if d.get("group"):
                assert re.match(r"^\d+ × \w[\w-]* \(hop \d+\)", d["display"]), d
                continue
            n = nodes[d["id"]]
            name = n["label"] or f"{n['id'][:6]}…{n['id'][-4:]}"
            traced = int(n["taint_units"])
            assert d["display"] == name + (f"\n{_short(traced, 18)} ETH" if traced else ""), d
        drawn_edges = _drawn(page, "edges")
        assert len(drawn_edges) > 5
        for d in drawn_edges:
            amount_line, day_line = d["display"].split("\n")
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}( → [\d-]+)?", day_line), d
            if d.get("parts"):  # an edge into or out of a folded group: checked in the folding test
                continue
            e = edges[d["id"]]
            count = f" · {e['count']} tx" if e["count"] > 1 else ""
            assert amount_line == f"{_short(int(e['units']), e['decimals'])} {e['asset']}{count}", d
            assert day_line.startswith(e["days"][0])
        # an edge across more than one hop is routed around the nodes between (dagre's route), e.g. the
        # exploiter's 15,000 cmETH to address 40/51, which would otherwise cut through the folded group
        routed = page.evaluate("window.tracerReport.cy.edges('.routed').map(e => [e.data('asset'), "
                               "e.controlPoints().length])")
        assert ["cmETH", 2] in [[a, min(n, 2)] for a, n in routed], routed
        assert not seen["errors"] and not [m for m in seen["console"] if m.startswith(("error", "warn"))], seen
    finally:
        page.close()


def _fan_out(g: dict) -> dict:
    fold, = [f for f in g["folds"] if f["end"] == EXPLOITER and f["side"] == "out" and f["asset"] == "ETH"]
    return fold


def test_the_exploiters_40_way_fan_out_folds_into_one_node_and_opens_back(case, browser):
    g = _data(case["html"])
    fold = _fan_out(g)
    assert len(fold["members"]) == 40 and fold["hop"] == 1
    page, seen = _open(browser, case["html"])
    try:
        def state():
            drawn = {d["id"] for d in _drawn(page, "nodes")}
            return fold["id"] in drawn, len(drawn & set(fold["members"]))

        assert state() == (True, 0)
        where = "Object.fromEntries(window.tracerReport.cy.nodes().filter(n => !n.hasClass('hidden'))" \
                ".map(n => [n.id(), [Math.round(n.position().x), Math.round(n.position().y)]]))"
        folded_at = page.evaluate(where)
        meta = [d for d in _drawn(page, "edges") if d.get("parts") and d["source"] == EXPLOITER
                and d["target"] == fold["id"] and d["asset"] == "ETH"]
        assert [m["display"] for m in meta] == ["40 × 10,000 ETH\n2025-02-21"]
        assert "Folded: 1 fan-out or fan-in group (8 or more alike transfers" in page.inner_text("#chart-summary")
        assert "holding 40 addresses" in page.inner_text("#chart-summary")

        page.evaluate(f"window.tracerReport.cy.getElementById('{fold['id']}').emit('tap') && null")  # a click
        assert state() == (False, 40)
        fan = [d for d in _drawn(page, "edges") if d["source"] == EXPLOITER and d["target"] in fold["members"]
               and d["asset"] == "ETH"]
        assert len(fan) == 40 and {d["display"] for d in fan} == {"10,000 ETH\n2025-02-21"}
        positions = page.evaluate("window.tracerReport.cy.nodes().filter(n => !n.hasClass('hidden'))"
                                  ".map(n => [n.position().x, n.position().y])")
        assert len({tuple(p) for p in positions}) == len(positions)  # laid out again: no two on one spot
        boxes = page.evaluate("window.tracerReport.cy.nodes().filter(n => !n.hasClass('hidden')).map(n => "
                              "[n.position().x, n.position().y, n.width(), n.height()])")
        overlapping = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                       if abs(a[0] - b[0]) * 2 < a[2] + b[2] and abs(a[1] - b[1]) * 2 < a[3] + b[3]]
        assert not overlapping, overlapping[:3]  # each opened node has its own room, not a pile

        page.uncheck("#f-fold")
        page.check("#f-fold")  # fold them all again
        assert state() == (True, 0)
        assert page.evaluate(where) == folded_at  # laid out again, as it first was
        assert not seen["errors"], seen
    finally:
        page.close()


def _widest(g: dict, target: str) -> set[str]:
    """The edges on the widest paths from the seeds to `target`, by networkx: the largest bottleneck of
    traced value (a crossing's is its deposit's; Bitcoin's side does not limit it, having no ETH figure),
    then the shortest paths of that width."""
    huge = 10**90
    lanes = {n["id"]: n["lane"] for n in g["nodes"]}
    seeds = [n["id"] for n in g["nodes"] if n["category"] == "seed"]
    usable = [e for e in g["edges"] if not e["poison"] and e["source"] != e["target"]
              and e["kind"] not in ("swap", "inferred", "co-spend")]

    def weight(e):
        return huge if lanes[e["source"]] == "btc" else int(e["taint"])

    for width in sorted({weight(e) for e in usable}, reverse=True):
        wide = nx.DiGraph()
        wide.add_nodes_from(lanes)
        wide.add_edges_from((e["source"], e["target"]) for e in usable if weight(e) >= width)
        reached = nx.multi_source_dijkstra_path_length(wide, seeds)
        if target in reached:
            break
    else:
        return set()
    if width == 0:
        return set()
    back = nx.single_source_shortest_path_length(wide.reverse(copy=False), target)
    return {e["id"] for e in usable if weight(e) >= width and e["source"] in reached and e["target"] in back
            and reached[e["source"]] + 1 + back[e["target"]] == reached[target]}


def test_clicking_an_exit_highlights_exactly_the_widest_paths_to_it(case, browser):
    g = _data(case["html"])
    exits = [n["id"] for n in g["nodes"] if n["exit"]]
    assert len(exits) >= 3
    page, seen = _open(browser, case["html"])
    try:
        with_path = 0
        for target in exits:
            expected = _widest(g, target)
            assert set(page.evaluate(f"window.tracerReport.widestPath('{target}').edges")) == expected, target
            with_path += bool(expected)
        assert with_path >= 3
        # a click on the exit that took the most traced value: its path, in red, the rest faded
        target = max(exits, key=lambda x: int(next(n for n in g["nodes"] if n["id"] == x)["taint_units"]))
        page.evaluate(f"window.tracerReport.cy.getElementById('{target}').emit('tap') && null")
        red = page.evaluate("window.tracerReport.cy.edges('.path').map(e => e.id())")
        assert set(red) == _widest(g, target) != set()
        assert set(page.get_attribute("#details", "data-path").split(",")) == set(red)
        assert "widest path from the seeds" in page.inner_text("#details")
        assert not seen["errors"], seen
    finally:
        page.close()


def test_the_date_filter_and_the_search(case, browser):
    g = _data(case["html"])
    first, last = g["first_day"], g["last_day"]
    assert first == "2025-02-21" and last > first
    page, seen = _open(browser, case["html"])
    try:
        everything = int(page.get_attribute("#visible-count", "data-visible"))
        where = "Object.fromEntries(window.tracerReport.cy.nodes().filter(n => !n.hasClass('hidden'))" \
                ".map(n => [n.id(), [Math.round(n.position().x), Math.round(n.position().y)]]))"
        first_picture = page.evaluate(where)
        page.check("#f-poison")  # the spam came on later days: the filter must cut some of it
        with_spam = int(page.get_attribute("#visible-count", "data-visible"))
        page.fill("#f-to", first)
        on_the_day = int(page.get_attribute("#visible-count", "data-visible"))
        assert 1 < on_the_day < with_spam
        for d in _drawn(page, "edges"):
            assert first in d["days"], d  # every drawn edge moved on a day in the range
        page.fill("#f-to", last)
        page.uncheck("#f-poison")
        assert int(page.get_attribute("#visible-count", "data-visible")) == everything
        assert page.evaluate(where) == first_picture  # the spam hidden again: the same picture as before

        member = _fan_out(g)["members"][7]
        page.fill("#f-search", member[2:12])  # part of an address folded inside the group
        assert page.get_attribute("#f-search", "data-matches") == "1"
        assert page.evaluate("window.tracerReport.cy.$(':selected').map(n => n.id())") == [member]
        assert not page.evaluate(f"window.tracerReport.cy.getElementById('{member}').hasClass('hidden')")
        page.fill("#f-search", "velora")  # a label
        assert int(page.get_attribute("#f-search", "data-matches")) >= 1
        assert "found" in page.inner_text("#search-count")
        assert not seen["errors"], seen
    finally:
        page.close()


def test_png_and_svg_exports_of_the_view(case, browser):
    page, seen = _open(browser, case["html"])
    try:
        with page.expect_download() as png:
            page.click("#export-png")
        image = open(png.value.path(), "rb").read()
        assert png.value.suggested_filename == "tracer-graph.png"
        assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 10_000
        with page.expect_download() as svg:
            page.click("#export-svg")
        root = ElementTree.fromstring(open(svg.value.path(), "rb").read())
        texts = " ".join("".join(el.itertext()) for el in root.iter("{http://www.w3.org/2000/svg}text"))
        assert "Bybit Exploiter" in texts and "40 × 10,000 ETH" in texts
        drawn = len(_drawn(page, "nodes"))
        assert len(root.findall("{http://www.w3.org/2000/svg}ellipse")) + len(
            root.findall("{http://www.w3.org/2000/svg}polygon")) + len(
            root.findall("{http://www.w3.org/2000/svg}rect")) - 1 == drawn  # (and the background)
        assert all(u.startswith(("file:", "data:", "blob:", "about:")) for u in seen["requests"]), seen["requests"]
        assert not seen["errors"] and not [m for m in seen["console"] if "Content Security Policy" in m], seen
    finally:
        page.close()


def test_the_layout_is_the_same_from_run_to_run(case, browser, tmp_path):
    from helpers import run_cli

    again = tmp_path / "again.html"
    assert run_cli("report", "--db", case["db"], "--out", again).exit_code == 0

    def positions(path):
        page, _ = _open(browser, path)
        try:
            return page.evaluate("Object.fromEntries(window.tracerReport.cy.nodes().map("
                                 "n => [n.id(), [Math.round(n.position().x), Math.round(n.position().y)]]))")
        finally:
            page.close()

    first = positions(case["html"])
    assert positions(again) == first and len(first) > 100


AMOUNTS = [(10_000 * ETHER, 18, "10,000"), (90_375_547_912_345_678_901_234, 18, "≈90,375.5479"),
           (1234, 18, "≈0.00000000000000123"), (10**17, 18, "0.1"), (0, 18, "0"), (149_993_020, 8, "≈1.4999"),
           (2 * 10**8, 8, "2"), (123_456_789_000 * ETHER, 18, "123,456,789,000")]


def test_the_charts_amount_format_agrees_with_hand_written_figures(case, browser):
    page, _ = _open(browser, case["html"])
    try:
        for units, decimals, shown in AMOUNTS:
            assert _short(units, decimals) == shown
            assert page.evaluate(f"window.tracerReport.shortAmount('{units}', {decimals})") == shown
    finally:
        page.close()


def test_widest_paths_on_a_graph_with_rival_routes(browser, tmp_path):
    """Two routes as wide as each other and as short (both red), a wider-start but narrower route, and an
    equally wide but longer one (neither red)."""
    from chart_graphs import ETHER, add_node, add_transfer, report_from_graph

    g = nx.MultiDiGraph()
    add_node(g, "S", 0, "seed", 100 * ETHER, "seed")
    for name, hop in (("A", 1), ("B", 1), ("C", 1), ("D", 2), ("E", 1)):
        add_node(g, name, hop, taint_wei=10 * ETHER)
    add_node(g, "X", 2, "exchange", 20 * ETHER, "the exit")
    for src, dst, eth in (("S", "A", 10), ("A", "X", 3), ("S", "B", 5), ("B", "X", 5), ("S", "C", 5),
                          ("C", "D", 5), ("D", "X", 5), ("S", "E", 6), ("E", "X", 5)):
        add_transfer(g, src, dst, eth * ETHER)
    path = report_from_graph(g, tmp_path / "rivals.html")
    data = _data(path)
    ids = {(e["source"], e["target"]): e["id"] for e in data["edges"]}
    expected = {ids["S", "B"], ids["B", "X"], ids["S", "E"], ids["E", "X"]}
    assert _widest(data, "X") == expected
    page, seen = _open(browser, path)
    try:
        assert set(page.evaluate("window.tracerReport.widestPath('X').edges")) == expected
        assert page.evaluate("window.tracerReport.widestPath('X').width.toString()") == str(5 * ETHER)
        assert page.evaluate("window.tracerReport.widestPath('A').edges") == [ids["S", "A"]]
        assert not seen["errors"], seen
    finally:
        page.close()


def test_a_big_chart_is_laid_out_whole_and_says_what_it_cut(browser, tmp_path):
    """Past 1,000 nodes dagre lays out a spine of the chart (the widest edge into each node): every drawn
    node still gets its own place, left to right by hop. The --max-nodes cut is stated in the header."""
    from chart_graphs import hop_graph, report_from_graph

    graph = hop_graph(1_300)
    path = report_from_graph(graph, tmp_path / "big.html", max_nodes=1_200)
    page, seen = _open(browser, path)
    try:
        summary = page.inner_text("#chart-summary")
        assert "Drawn: 1,200 of 1,300 addresses" in summary and "Cut: 100 addresses are not drawn" in summary
        at = page.evaluate("Object.fromEntries(window.tracerReport.cy.nodes().filter(n => !n.hasClass('hidden'))"
                           ".map(n => [n.id(), [Math.round(n.position().x), Math.round(n.position().y)]]))")
        assert len(at) == 1_200 and len(set(map(tuple, at.values()))) == 1_200
        hops = {n: d["hop"] for n, d in graph.nodes(data=True) if n in at}
        columns = {}
        for n, hop in hops.items():
            columns.setdefault(hop, set()).add(at[n][0])
        order = sorted(columns)
        assert all(max(columns[a]) < min(columns[b]) for a, b in zip(order, order[1:]))  # hop by hop, rightwards
        assert int(page.get_attribute("#cy", "data-layout-ms")) > 0
        assert not seen["errors"], seen
    finally:
        page.close()


def test_the_chart_weighs_only_comparable_value_and_sums_what_is_in_the_date_range(browser, tmp_path):
    """10,000,000 USDT is not 10,000,000 of anything the ETH figures measure: it neither widens an edge nor
    makes a path widest. A bridge crossing carries what its deposit carried (not 'unlimited'). An edge's
    label sums only the days in the date filter's range."""
    from chart_graphs import ETHER, add_node, add_transfer, report_from_graph

    usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    g = nx.MultiDiGraph()
    add_node(g, "S", 0, "seed", 100 * ETHER, "seed")
    for name in ("A", "B", "C"):
        add_node(g, name, 1, taint_wei=10 * ETHER)
    add_node(g, "X", 2, "exchange", 2 * ETHER, "the exit")
    add_node(g, "V", 2, "bridge", ETHER, "a vault")
    add_node(g, "btc:bc1qdest", -1, "destination", 0, "BTC via thorchain")
    add_transfer(g, "S", "A", 10_000_000 * 10**6, asset="USDT", token=usdt, decimals=6)
    add_transfer(g, "A", "X", 10_000_000 * 10**6, asset="USDT", token=usdt, decimals=6)
    add_transfer(g, "S", "B", ETHER)
    add_transfer(g, "B", "X", ETHER)
    for day in (0, 1, 2):
        add_transfer(g, "S", "C", 3 * ETHER, day=day)
    add_transfer(g, "C", "V", 2 * ETHER, tx_hash="0x" + "ab" * 32)  # the deposit
    add_transfer(g, "C", "btc:bc1qdest", 2 * ETHER, taint_wei=0, kind="bridge", tx_hash="0x" + "ab" * 32)
    path = report_from_graph(g, tmp_path / "units.html", decimals={usdt: 6})
    data = _data(path)
    by_pair = {(e["source"], e["target"], e["asset"]): e for e in data["edges"]}
    assert by_pair["S", "A", "USDT"]["taint"] == "0" and by_pair["C", "btc:bc1qdest", "ETH"]["taint"] == str(2 * ETHER)
    page, seen = _open(browser, path)
    try:
        found = page.evaluate("(() => { const w = window.tracerReport.widestPath('X'); "
                              "return [w.edges, w.width.toString()]; })()")
        assert set(found[0]) == {by_pair["S", "B", "ETH"]["id"], by_pair["B", "X", "ETH"]["id"]}
        assert found[1] == str(ETHER)
        assert page.evaluate("window.tracerReport.widestPath('btc:bc1qdest').width.toString()") == str(2 * ETHER)
        widths = page.evaluate("Object.fromEntries(window.tracerReport.cy.edges().map(e => [e.id(), e.data('width')]))")
        assert widths[by_pair["S", "A", "USDT"]["id"]] == 1  # hairline: no comparable figure
        assert widths[by_pair["S", "B", "ETH"]["id"]] > 1
        label = f"window.tracerReport.cy.getElementById('{by_pair['S', 'C', 'ETH']['id']}').data('display')"
        assert page.evaluate(label) == "9 ETH · 3 tx\n2025-02-21 → 02-23"
        page.fill("#f-to", "2025-02-22")
        assert page.evaluate(label) == "6 ETH · 2 tx\n2025-02-21 → 02-22"
        page.fill("#f-from", "2025-02-22")
        assert page.evaluate(label) == "3 ETH\n2025-02-22"
        assert not seen["errors"], seen
    finally:
        page.close()


def test_the_fold_rule_keeps_exits_and_the_odd_one_out_drawn():
    from tracer.case_report import fan_folds

    def node(i, category="eoa"):
        return {"id": f"n{i}", "category": category, "hop": 1, "lane": "eth", "label": ""}

    def edge(i, units, token="ETH"):
        return {"source": "s", "target": f"n{i}", "kind": "native", "poison": False, "asset": token, "token": token,
                "units": str(units)}

    seed = {"id": "s", "category": "seed", "hop": 0, "lane": "eth", "label": ""}
    # 9 alike recipients and one that took a thousand times more: the nine fold, the big one stays drawn
    nodes = [seed] + [node(i) for i in range(10)]
    edges = [edge(i, 10**18) for i in range(9)] + [edge(9, 1000 * 10**18)]
    fold, = fan_folds(nodes, edges)
    assert fold["members"] == [f"n{i}" for i in range(9)] and fold["end"] == "s"
    # 7 dust recipients and the main wallet: nothing alike enough to fold
    assert fan_folds(nodes[:9], edges[:7] + [edge(7, 1000 * 10**18)]) == []
    # ten exchange deposits are ten exits, never one box
    assert fan_folds([seed] + [node(i, "exchange") for i in range(10)], [edge(i, 10**18) for i in range(10)]) == []
    # unlabelled addresses fold together whether their code was checked (eoa) or not (unknown)
    mixed = [seed] + [node(i, "eoa" if i % 2 else "unknown") for i in range(10)]
    assert len(fan_folds(mixed, [edge(i, 10**18) for i in range(10)])[0]["members"]) == 10


def test_filters_folds_search_and_clicks_leave_no_stale_state(case, browser):
    """Sequences an analyst goes through: each state is drawn as if reached directly."""
    g = _data(case["html"])
    fold = _fan_out(g)
    where = "Object.fromEntries(window.tracerReport.cy.nodes().filter(n => !n.hasClass('hidden'))" \
            ".map(n => [n.id(), [Math.round(n.position().x), Math.round(n.position().y)]]))"
    lonely = """window.tracerReport.cy.nodes().filter(n => !n.hasClass('hidden') && n.data('category') !== 'seed'
                && n.connectedEdges().filter(e => !e.hasClass('hidden')).length === 0).map(n => n.id())"""
    page, seen = _open(browser, case["html"])
    try:
        first = page.evaluate(where)
        metas = page.evaluate("window.tracerReport.cy.edges('.meta').map(e => e.id())")
        # a filter on while the groups are laid out again does not shape the picture for good
        page.fill("#f-min", "1")
        page.uncheck("#f-fold")
        page.check("#f-fold")
        page.fill("#f-min", "0")
        assert page.evaluate(where) == first
        assert page.evaluate("window.tracerReport.cy.edges('.meta').map(e => e.id())") == metas  # kept, not remade
        assert page.evaluate(lonely) == []
        # a path highlighted, then a filter changed: the highlight and its description go
        target = max((n for n in g["nodes"] if n["exit"]), key=lambda n: int(n["taint_units"]))["id"]
        page.evaluate(f"window.tracerReport.cy.getElementById('{target}').emit('tap') && null")
        assert page.evaluate("window.tracerReport.cy.edges('.path').length") > 0
        page.fill("#f-to", "2025-02-22")
        assert page.evaluate("window.tracerReport.cy.elements('.path, .faded').length") == 0
        assert page.get_attribute("#details", "data-path") == "" and "(red)" not in page.inner_text("#details")
        # the group's transfers are all on 2025-02-21: from the 22nd it is not drawn, and the counter says so
        page.fill("#f-from", "2025-02-22")
        assert page.evaluate(f"window.tracerReport.cy.getElementById('{fold['id']}').hasClass('hidden')")
        assert "folded group" not in page.inner_text("#visible-count")
        assert page.evaluate(lonely) == []
        page.fill("#f-from", g["first_day"])
        page.fill("#f-to", g["last_day"])
        # a search opens the group its match is in; the next search closes it again
        page.fill("#f-search", fold["members"][3][2:14])
        assert not page.evaluate(f"window.tracerReport.cy.getElementById('{fold['members'][3]}').hasClass('hidden')")
        page.fill("#f-search", "")
        assert not page.evaluate(f"window.tracerReport.cy.getElementById('{fold['id']}').hasClass('hidden')")
        assert page.evaluate(where) == first
        assert not seen["errors"] and not [m for m in seen["console"] if m.startswith(("error", "warn"))], seen
    finally:
        page.close()
