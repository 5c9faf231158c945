"""Providers' limits and failures, between the tracer and a real node."""

import json
import sqlite3

import pytest

from helpers import run_cli, store_snapshot
from rpc_proxy import RpcProxy
from tracer.labels import known_code


def rpc_trace(url, db, seed, *extra):
    return run_cli("trace", seed, "--db", db, "--source", "rpc", "--rpc-url", url, "--json", "--quiet", *extra)


@pytest.fixture(scope="module")
def reference(scenario_chain, tmp_path_factory):
    """The scenario traced straight from anvil, to compare every detour with."""
    node, s = scenario_chain
    db = tmp_path_factory.mktemp("ref") / "direct.db"
    assert rpc_trace(node.url, db, s.seed).exit_code == 0
    return store_snapshot(db)


@pytest.fixture
def proxy(scenario_chain):
    with RpcProxy(scenario_chain[0].url) as p:
        yield p


def ok(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("style", ["infura", "alchemy", "plain"])
def test_provider_range_limits_are_split_and_nothing_is_missed(scenario_chain, reference, proxy, tmp_path, style):
    _, s = scenario_chain
    proxy.max_log_span, proxy.max_trace_span, proxy.limit_style = 5, 7, style
    db = tmp_path / "case.db"
    ok(rpc_trace(proxy.url, db, s.seed))
    assert proxy.refused > 0
    assert store_snapshot(db) == reference
    spans = [int(p[0]["toBlock"], 16) - int(p[0]["fromBlock"], 16) + 1 for p in proxy.calls("eth_getLogs")]
    refusals_allowed = 1 if style != "plain" else 4  # a named range is used at once; a bare refusal halves
    assert sum(1 for x in spans if x > 5) <= refusals_allowed


def test_getlogs_calls_per_hop_do_not_grow_with_the_frontier(scenario_chain, reference, proxy, tmp_path):
    _, s = scenario_chain
    summary = ok(rpc_trace(proxy.url, tmp_path / "case.db", s.seed, "--chunk-size", "500"))
    followed_hops = [h for h in summary["hops"] if h["followed"]]
    # one query each way (sent, received) per hop, whatever the number of addresses in it
    assert len(proxy.calls("eth_getLogs")) == 2 * len(followed_hops)
    assert len(proxy.calls("trace_filter")) == 2 * len(followed_hops) + 1  # + the support probe
    assert max(h["followed"] for h in followed_hops) >= 5
    for params in proxy.calls("eth_getLogs"):
        assert isinstance(params[0]["topics"][1] or params[0]["topics"][2], list)


def test_small_chunks_cost_one_query_per_chunk(scenario_chain, proxy, tmp_path):
    _, s = scenario_chain
    summary = ok(rpc_trace(proxy.url, tmp_path / "case.db", s.seed, "--chunk-size", "2"))
    expected = sum(2 * -(-h["followed"] // 2) for h in summary["hops"] if h["followed"])
    assert len(proxy.calls("eth_getLogs")) == expected


def test_code_checks_and_timestamps_are_batched(scenario_chain, proxy, tmp_path):
    _, s = scenario_chain
    db = tmp_path / "case.db"
    summary = ok(rpc_trace(proxy.url, db, s.seed))
    conn = sqlite3.connect(db)
    reached = [a for (a,) in conn.execute("SELECT address FROM addresses WHERE hop IS NOT NULL")]
    conn.close()
    curated = [a for a in reached if known_code(a)]  # the curator knows whether they hold code: never asked
    assert len(reached) == summary["reached_addresses"] and curated
    assert sorted(p[0] for p in proxy.calls("eth_getCode")) == sorted(set(reached) - set(curated))
    assert proxy.http_requests < len(proxy.log)  # several calls per HTTP request


def test_node_without_trace_filter_scans_blocks_and_warns_once(scenario_chain, reference, proxy, tmp_path):
    _, s = scenario_chain
    proxy.no_traces = True
    db = tmp_path / "case.db"
    result = rpc_trace(proxy.url, db, s.seed)
    ok(result)
    assert result.stderr.count("warning") == 1 and "internal ETH transfers" in result.stderr
    view = store_snapshot(db)
    kinds = {row[2] for row in view["transfers"]}
    assert "internal" not in kinds
    native_ref = {r for r in reference["transfers"] if r[2] == "native"}
    native = {r for r in view["transfers"] if r[2] == "native"}
    assert native_ref <= native  # every top-level transfer found by scanning
    reached = {row[0] for row in view["addresses"]}
    assert s.safe_payee not in reached  # only an internal call reaches it


def test_node_without_trace_filter_uses_the_explorer_for_eth(scenario_chain, reference, proxy, tmp_path):
    from chain_indexer import index_chain
    from explorer_server import ExplorerServer

    node, s = scenario_chain
    proxy.no_traces = True
    db = tmp_path / "case.db"
    with ExplorerServer(index_chain(node)) as server:
        result = run_cli("trace", s.seed, "--db", db, "--rpc-url", proxy.url, "--explorer-url", server.url,
                         "--rate", "500", "--json", "--quiet")
        ok(result)
        assert any(q.get("action") == "txlistinternal" for q in server.log)
        assert not any(q.get("action") == "tokentx" for q in server.log)  # tokens come from the node's logs
    assert store_snapshot(db) == reference


def test_rejected_batches_fall_back_to_single_calls(scenario_chain, reference, proxy, tmp_path):
    _, s = scenario_chain
    proxy.no_batches = True
    db = tmp_path / "case.db"
    ok(rpc_trace(proxy.url, db, s.seed))
    assert store_snapshot(db) == reference


def one_line_error(result):
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracer: error: "), result.stderr
    return lines[0]


def test_unreachable_node(scenario_chain, tmp_path):
    _, s = scenario_chain
    line = one_line_error(rpc_trace("http://127.0.0.1:9", tmp_path / "c.db", s.seed, "--retries", "1"))
    assert "cannot connect" in line and "127.0.0.1:9" in line


def test_non_json_answers(scenario_chain, proxy, tmp_path):
    _, s = scenario_chain
    proxy.html = True
    assert "not JSON" in one_line_error(rpc_trace(proxy.url, tmp_path / "c.db", s.seed, "--retries", "1"))


def test_wrong_chain(scenario_chain, tmp_path):
    node, s = scenario_chain
    line = one_line_error(rpc_trace(node.url, tmp_path / "c.db", s.seed, "--chain-id", "5"))
    assert "is on chain 1, not 5" in line


def test_non_archive_node(scenario_chain, proxy, tmp_path):
    _, s = scenario_chain
    proxy.archive_error = True
    assert "archive" in one_line_error(rpc_trace(proxy.url, tmp_path / "c.db", s.seed))


def test_credentials_in_the_rpc_url_never_reach_output_or_store(scenario_chain, proxy, tmp_path):
    _, s = scenario_chain
    url = proxy.url.replace("http://", "http://analyst:hunter2secret@") + "/v3/KEYabc123secret"
    db = tmp_path / "c.db"
    good = rpc_trace(url, db, s.seed)
    proxy.html = True
    bad = rpc_trace(url, db, s.seed, "--retries", "0")
    assert good.exit_code == 0 and bad.exit_code != 0
    for text in (good.output, bad.output):
        assert "hunter2secret" not in text and "KEYabc123secret" not in text
    raw = db.read_bytes()
    assert b"hunter2secret" not in raw and b"KEYabc123secret" not in raw


def test_node_dying_mid_run_loses_nothing_and_the_next_run_continues(scenario_chain, reference, proxy, tmp_path):
    _, s = scenario_chain
    db = tmp_path / "c.db"
    proxy.down_after = 20
    line = one_line_error(rpc_trace(proxy.url, db, s.seed, "--retries", "1"))
    assert "HTTP 503" in line
    conn = sqlite3.connect(db)
    partial = conn.execute("SELECT count(*) FROM transfers").fetchone()[0]
    conn.close()
    assert 0 < partial < len(reference["transfers"])  # it died part-way
    proxy.down, proxy.down_after = False, None  # the node is back
    ok(rpc_trace(proxy.url, db, s.seed))
    assert store_snapshot(db) == reference


def test_throttling_and_server_errors_are_retried(scenario_chain, reference, proxy, tmp_path):
    _, s = scenario_chain
    proxy.faults = ["429", "busy", "500", "ok", "429", "busy", "500"]
    db = tmp_path / "c.db"
    summary = ok(rpc_trace(proxy.url, db, s.seed))
    assert summary["rate_limited"] >= 4
    assert store_snapshot(db) == reference
