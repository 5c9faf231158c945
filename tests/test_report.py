"""`tracer report`: the HTML report opened in a real headless Chromium, and the Markdown summary.

The store is the real Bybit records (first two hops), traced in two runs so that the report has
something new to say, plus two hostile strings: a token named like an HTML tag with a handler, and a
THORChain-style memo that tries to close the script element the data travels in.
"""

from __future__ import annotations

import html as html_module
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import EXPLOITER, HOP1_CONSOLIDATION
from explorer_server import Chain, ExplorerServer
from helpers import run_cli, trace

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HOSTILE_SYMBOL = "<img src=x onerror=alert(1)>"
HOSTILE_MEMO = "=:BTC.BTC:bc1q</script><script>alert(2)</script>"
MEMO_SENDER_TX = "0x" + "5e" * 32


def _hostile_chain() -> Chain:
    chain = Chain.from_fixtures()
    chain.records["tokentx"].append({
        "blockNumber": "21895600", "timeStamp": "1740150000", "hash": "0x" + "d2" * 32, "from": EXPLOITER,
        "to": HOP1_CONSOLIDATION, "value": str(10**18), "contractAddress": "0x" + "e8" * 20,
        "tokenSymbol": HOSTILE_SYMBOL, "tokenName": HOSTILE_SYMBOL, "tokenDecimal": "18"})
    chain.records["txlist"].append({
        "blockNumber": "21895320", "timeStamp": "1740148427", "hash": MEMO_SENDER_TX, "from": HOP1_CONSOLIDATION,
        "to": "0x" + "7a" * 20, "value": str(10**18), "isError": "0", "txreceipt_status": "1",
        "input": "0x" + HOSTILE_MEMO.encode().hex(), "contractAddress": "", "gasPrice": "1000000000"})
    return chain


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A store traced twice (last night, then tonight), its HTML and Markdown reports."""
    tmp = tmp_path_factory.mktemp("report")
    db = tmp / "bybit.db"
    chain = _hostile_chain()
    with ExplorerServer(chain) as server:
        chain.visible_to = 21895330  # last night: before most of hop 1
        trace(server, db)
        chain.visible_to = None
        trace(server, db)
    html, md = tmp / "report.html", tmp / "report.md"
    for out, fmt in ((html, "html"), (md, "md")):
        result = run_cli("report", "--db", db, "--out", out, "--format", fmt)
        assert result.exit_code == 0, result.output
    return {"db": db, "html": html, "md": md}


def _expected_visible(db) -> tuple[int, int]:
    """(nodes an analyst should see by default, all nodes): poisoning nodes and nodes reached only by
    poisoning are hidden until asked for — computed from the exported graph, not from the page."""
    from tracer.graph import build_graph
    from tracer.models import POISON_FLAGS
    from tracer.store import Store, _flags_set

    store = Store.open(db, create=False)
    try:
        g = build_graph(store)
    finally:
        store.close()
    shown = 0
    for n, d in g.nodes(data=True):
        if d["category"] == "poison":
            continue
        clean = [e for e in list(g.in_edges(n, data="flags")) + list(g.out_edges(n, data="flags"))
                 if not _flags_set(e[2]) & POISON_FLAGS]
        shown += bool(clean) or d["category"] == "seed"
    return shown, g.number_of_nodes()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test extra (pip install -e '.[test]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    seen = {"dialogs": [], "console": [], "requests": [], "errors": []}
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    return page, seen


def _visible(page) -> int:
    return int(page.get_attribute("#visible-count", "data-visible"))


def test_the_graph_renders_filters_and_shows_details_on_click(case, browser):
    expected, total = _expected_visible(case["db"])
    page, seen = _open(browser, case["html"])
    assert _visible(page) == expected > 10  # poisoning hidden by default
    assert page.evaluate("window.tracerReport.cy.nodes('[!group]').length") == total  # (and the fan-out groups)

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"))
    if os.environ.get("TRACER_UPDATE_SCREENSHOT"):  # refresh the README's picture from this very test
        shutil.copy(ARTIFACTS / "report.png", ROOT / "docs" / "report.png")

    # click a node where it is drawn: its details appear
    box = page.locator("#cy").bounding_box()
    pos = page.evaluate(f"window.tracerReport.cy.getElementById('{HOP1_CONSOLIDATION}').renderedPosition()")
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    page.wait_for_selector(f"#details[data-node='{HOP1_CONSOLIDATION}']", timeout=5_000)
    details = page.inner_text("#details")
    assert "hop" in details and "category" in details and "label source" in details
    assert "FBI PSA I-022625-PSA" in details  # its label names where it comes from
    assert page.get_attribute("#details a", "href") == f"https://etherscan.io/address/{HOP1_CONSOLIDATION}"

    # the poisoning toggle shows the spam; the filters narrow the picture
    page.check("#f-poison")
    assert _visible(page) == total
    page.uncheck("#f-poison")
    assert _visible(page) == expected
    page.select_option("#f-hop", "1")
    at_hop_1 = _visible(page)
    assert 1 < at_hop_1 < expected
    page.select_option("#f-hop", "2")
    page.select_option("#f-asset", "stETH")
    with_steth = _visible(page)
    assert 1 < with_steth < expected
    page.select_option("#f-asset", "")
    page.fill("#f-min", "100000000")  # more than anything moved: only the seed is left
    assert _visible(page) == 1
    assert not seen["errors"] and not seen["dialogs"], seen
    assert not [m for m in seen["console"] if m.startswith("error")], seen["console"]
    page.close()


def test_hostile_strings_render_as_text_and_nothing_is_fetched(case, browser):
    html = case["html"].read_text(encoding="utf-8")
    csp = html_module.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1))
    assert csp.startswith("default-src 'none'; script-src 'sha256-") and "unsafe-eval" not in csp
    assert "script-src 'unsafe-inline'" not in csp and "connect-src" not in csp  # nothing may be fetched
    scripts = re.search(r"script-src ([^;]+);", csp).group(1).split()
    assert len(scripts) == 3 and all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]+=*'", h) for h in scripts), csp
    assert re.fullmatch(r"default-src 'none'; script-src [^;]+; style-src 'sha256-[^']+'; style-src-elem "
                        r"'sha256-[^']+'; style-src-attr 'unsafe-inline'; img-src data:; base-uri 'none'; "
                        r"form-action 'none'", csp), csp  # exactly the policy: no new allowance
    assert HOSTILE_SYMBOL not in html and "</script><script>alert" not in html  # never raw in the markup
    page, seen = _open(browser, case["html"])
    page.check("#f-poison")  # show everything, the hostile token's edge included
    page.wait_for_timeout(300)
    assert seen["dialogs"] == [] and seen["errors"] == []
    assert page.evaluate("document.images.length") == 0  # no <img> was made from a token name
    assert page.evaluate("document.scripts.length") == 4  # data, cytoscape, cytoscape-dagre, ours: none injected
    options = page.eval_on_selector_all("#f-asset option", "els => els.map(e => e.textContent)")
    assert HOSTILE_SYMBOL in options  # shown as the text it is
    assert "bc1q</script><script>alert(2)</script>" in page.inner_text("body")
    # click the hostile token's edge: its details are text too
    edge = page.evaluate(
        "window.tracerReport.cy.edges().filter(e => e.data('asset').indexOf('onerror') >= 0).map(e => e.id())")
    assert edge
    page.evaluate(f"window.tracerReport.cy.getElementById('{edge[0]}').emit('tap') && null")  # no collection back
    assert HOSTILE_SYMBOL in page.inner_text("#details")
    assert page.evaluate("document.images.length") == 0 and seen["dialogs"] == []
    # the SVG export writes the token's name as text: no element comes of it, the file stays well-formed
    from xml.etree import ElementTree

    svg = ElementTree.fromstring(page.evaluate("window.tracerReport.svgText()").encode("utf-8"))
    assert {el.tag.rpartition("}")[2] for el in svg.iter()} <= {"svg", "rect", "defs", "marker", "path", "text",
                                                                  "tspan", "ellipse", "polygon"}
    assert any(HOSTILE_SYMBOL in (el.text or "") for el in svg.iter())
    assert all(url.startswith(("file:", "data:", "about:")) for url in seen["requests"]), seen["requests"]
    assert not [m for m in seen["console"] if "Content Security Policy" in m], seen["console"]
    page.close()


def test_markdown_has_the_same_summary_and_escapes_untrusted_text(case):
    text = case["md"].read_text(encoding="utf-8")
    for heading in ("## What is new", "## Exits, ranked by traced value", "## Seeds and their sources",
                    "## Run parameters"):
        assert heading in text
    assert "Run 2, since run 1." in text
    assert "Velora (ParaSwap) Delta: AugustusExecutor v1" in text  # the biggest exit, with its label
    assert "FBI PSA I-022625-PSA" in text  # seeds with their sources
    assert "<script>" not in text and "<img" not in text  # hostile text stays text when rendered


def test_report_errors_are_one_line(tmp_path, monkeypatch):
    missing = run_cli("report", "--db", tmp_path / "none.db", "--out", tmp_path / "r.html")
    assert missing.exit_code == 4 and missing.output.count("\n") == 1 and "no store" in missing.output
    bad_dir = run_cli("report", "--db", tmp_path / "none.db", "--out", tmp_path / "no" / "r.html")
    assert bad_dir.exit_code == 2 and "does not exist" in bad_dir.output
    from tracer.store import Store

    Store.open(tmp_path / "case.db").close()
    before = (tmp_path / "case.db").read_bytes()
    for bad in (["--out", tmp_path / "no" / "r.html"], ["--out", tmp_path / "r.html", "--format", "pdf"],
                ["--out", tmp_path / "r.html", "--max-nodes", "0"]):
        result = run_cli("report", "--db", tmp_path / "case.db", *bad)
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert (tmp_path / "case.db").read_bytes() == before  # the store is untouched
    monkeypatch.setattr("tracer.html_report.VENDOR_FILES", ("cytoscape.min.js", "not-installed.js"))
    no_lib = run_cli("report", "--db", tmp_path / "none.db", "--out", tmp_path / "r.html")
    assert no_lib.exit_code == 1 and "scripts/install-tools.sh" in no_lib.output
    assert no_lib.output.count("\n") == 1
