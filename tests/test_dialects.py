"""The real trace through each explorer dialect, as the services answer today (tests/explorer_server.py
speaks each as the project's notes document it; tests/test_dialect_server.py keeps it honest)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from conftest import EXPLOITER, HOP1_CONSOLIDATION, HOP2_FORWARD
from explorer_server import Chain, ExplorerServer
from helpers import run_cli, store_snapshot
from tracer.sources.explorer import Endpoint, ExplorerClient

STETH = "0xae7ab96520de3a18e5e111b5eaab095312d7fe84"
ES_KEY, PRO_KEY = "ESKEY123", "proapi_test123"

# (name, server options, environment, extra CLI options)
DIALECTS = [
    ("etherscan-paid", {"dialect": "etherscan", "api_key": ES_KEY}, {"ETHERSCAN_API_KEY": ES_KEY}, []),
    ("etherscan-free-clamp", {"dialect": "etherscan", "api_key": ES_KEY, "tier": "free-clamp"},
     {"ETHERSCAN_API_KEY": ES_KEY}, []),
    ("etherscan-free-clamp-asked-10000", {"dialect": "etherscan", "api_key": ES_KEY, "tier": "free-clamp"},
     {"ETHERSCAN_API_KEY": ES_KEY}, ["--page-size", "10000"]),
    ("etherscan-free-window-asked-10000", {"dialect": "etherscan", "api_key": ES_KEY, "tier": "free-window"},
     {"ETHERSCAN_API_KEY": ES_KEY}, ["--page-size", "10000"]),
    ("blockscout", {"dialect": "blockscout"}, {}, []),
    ("blockscout-pro", {"dialect": "blockscout-pro", "api_key": PRO_KEY}, {"BLOCKSCOUT_API_KEY": PRO_KEY},
     ["--explorer-dialect", "blockscout-pro"]),
]
IDS = [d[0] for d in DIALECTS]


def _trace(server, db, env, *extra, seed=EXPLOITER, hops="2"):
    return run_cli("trace", seed, "--db", db, "--explorer-url", server.url, "--rate", "500", "--hops", hops,
                   "--quiet", "--json", *extra, env=env)


def _sorted_export(db, path) -> dict:
    assert run_cli("export", "--db", db, "--format", "json", "--out", path).exit_code == 0
    doc = json.loads(path.read_text())
    return {"nodes": sorted(json.dumps(n, sort_keys=True) for n in doc["nodes"]),
            "edges": sorted(json.dumps(e, sort_keys=True) for e in doc["edges"])}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The fixture trace through Etherscan's paid tier: what every dialect must reproduce."""
    db = tmp_path_factory.mktemp("ref") / "ref.db"
    with ExplorerServer(Chain.from_fixtures(), dialect="etherscan", api_key=ES_KEY) as server:
        assert _trace(server, db, {"ETHERSCAN_API_KEY": ES_KEY}).exit_code == 0
    return db, store_snapshot(db), _sorted_export(db, db.with_suffix(".json"))


@pytest.mark.parametrize("name,options,env,extra", DIALECTS, ids=IDS)
def test_the_fixture_trace_is_the_same_through_every_dialect(name, options, env, extra, reference, tmp_path):
    db = tmp_path / "case.db"
    with ExplorerServer(Chain.from_fixtures(), **options) as server:
        result = _trace(server, db, env, *extra)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rejected_records"] == 0 and summary["not_yet_indexed"] == []
    _, snapshot, export = reference
    assert store_snapshot(db) == snapshot
    assert _sorted_export(db, tmp_path / "g.json") == export
    params = json.loads(sqlite3.connect(db).execute("SELECT params FROM runs").fetchone()[0])
    assert params["explorer_dialect"] == options["dialect"]  # kept in the run's parameters
    for key in (ES_KEY, PRO_KEY):
        assert key not in result.output and key.encode() not in db.read_bytes()


def _lookalike(real: str, i: int) -> str:
    """A poisoner's address: the real counterparty's first and last four hex digits, random middle."""
    return real[:6] + f"{i:032x}" + real[-4:]


def _flood(chain: Chain, victim: str, imitated: str, rows: int, first_block: int, last_block: int) -> set[str]:
    """`rows` zero-value stETH transfers from the victim to look-alikes of a real counterparty, spread over
    the blocks between its first inflow and its first outflow: the spam every address in the news gets."""
    template = next(r for r in chain.records["tokentx"] if r["contractAddress"].lower() == STETH)
    fakes = set()
    span = last_block - first_block + 1
    for i in range(rows):
        fake = _lookalike(imitated, i)
        fakes.add(fake)
        block = first_block + i * span // rows
        chain.records["tokentx"].append({**template, "blockNumber": str(block), "hash": "0x" + f"{i + 1:064x}",
                                         "from": victim, "to": fake, "value": "0", "tokenSymbol": "stETH",
                                         "contractAddress": STETH})
    chain.records["tokentx"].sort(key=lambda r: int(r["blockNumber"]))
    return fakes


@pytest.mark.parametrize("name,options,env,extra", DIALECTS, ids=IDS)
def test_a_flood_of_poisoning_before_the_first_outflow_loses_nothing(name, options, env, extra, reference, tmp_path):
    """1,100 spam rows before the consolidation wallet's first outflow: under a 1,000-row cap a client that
    trusts a short page stops there and the trail is lost. Nothing is lost here, and no look-alike is asked."""
    chain = Chain.from_fixtures()
    fakes = _flood(chain, HOP1_CONSOLIDATION, HOP2_FORWARD, 1100, 21895320, 21895380)
    db = tmp_path / "case.db"
    with ExplorerServer(chain, **options) as server:
        result = _trace(server, db, env, *extra)
        asked = {str(q.get("address", "")).lower() for q in server.log}
        requests = json.loads(result.stdout)["requests"] if result.exit_code == 0 else None
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(db)
    spam = conn.execute("SELECT count(*) FROM transfers WHERE to_addr IN (%s)" % ",".join("?" * len(fakes)),
                        sorted(fakes)).fetchone()[0]
    conn.close()
    assert spam == 1100
    ref_db, snapshot, _ = reference
    clean = [t for t in store_snapshot(db)["transfers"] if t[7] not in fakes]
    assert clean == [t for t in snapshot["transfers"]]  # every real transfer, the trail beyond included
    assert not asked & fakes
    print(f"\n{name}: {requests} requests for the flooded trace")


def test_blockscout_429_waits_as_long_as_x_ratelimit_reset_says(tmp_path):
    with ExplorerServer(Chain.from_fixtures(), dialect="blockscout") as server:
        client = ExplorerClient(Endpoint(server.url, None, 5.0, "t", "blockscout"), rate=100)
        try:
            client.head_block()
            server.faults.append("ratelimit")  # HTTP 429, x-ratelimit-reset: 1000 (ms), no Retry-After
            t0 = time.monotonic()
            head = client.head_block()
            waited = time.monotonic() - t0
        finally:
            client.close()
    assert head == Chain.from_fixtures().head and client.rate_limited == 1
    assert 0.95 <= waited < 3.0


def _refusal(result, *words):
    assert result.exit_code == 6, result.output
    assert result.stderr.startswith("tracer: error: ") and result.stderr.count("\n") == 1
    assert "internal error" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.fixture()
def traced(tmp_path, reference):
    """A case already traced, to show refusals leave what it holds as it was."""
    import shutil

    db = tmp_path / "case.db"
    shutil.copy(reference[0], db)
    return db


def _data(db) -> tuple:
    conn = sqlite3.connect(db)
    try:
        return (store_snapshot(db), sorted(conn.execute("SELECT * FROM cursors").fetchall()))
    finally:
        conn.close()


def test_pro_without_a_key_with_a_wrong_key_and_out_of_credits(traced):
    before = _data(traced)
    with ExplorerServer(Chain.from_fixtures(), dialect="blockscout-pro", api_key=PRO_KEY) as server:
        nokey = _trace(server, traced, {}, "--explorer-dialect", "blockscout-pro")
        wrong = _trace(server, traced, {"BLOCKSCOUT_API_KEY": "proapi_wrong"}, "--explorer-dialect", "blockscout-pro")
    _refusal(nokey, "BLOCKSCOUT_API_KEY")
    _refusal(wrong, "HTTP 401", "BLOCKSCOUT_API_KEY")
    assert "proapi_wrong" not in wrong.output
    assert _data(traced) == before  # refused at the first call: nothing the store held has changed
    with ExplorerServer(Chain.from_fixtures(), dialect="blockscout-pro", api_key=PRO_KEY, credits=200) as server:
        spent = _trace(server, traced, {"BLOCKSCOUT_API_KEY": PRO_KEY}, "--explorer-dialect", "blockscout-pro",
                       "--no-screen")
    _refusal(spent, "credits", "00:00 UTC")
    assert _data(traced)[1] >= before[1]  # nothing lost; what the credits paid for is kept


@pytest.mark.parametrize("mode", ["410", "html", "message"])
def test_a_retired_keyless_blockscout_names_the_two_free_keys(mode, traced):
    before = _data(traced)
    with ExplorerServer(Chain.from_fixtures(), dialect="blockscout", retired=mode) as server:
        result = _trace(server, traced, {}, "--retries", "0", "--explorer-dialect", "blockscout")
    _refusal(result, "ETHERSCAN_API_KEY", "BLOCKSCOUT_API_KEY")
    assert _data(traced) == before


def test_a_daily_limit_stops_cleanly_and_the_next_day_resumes_to_the_same_store(tmp_path, reference):
    db = tmp_path / "case.db"
    env = {"ETHERSCAN_API_KEY": ES_KEY}
    with ExplorerServer(Chain.from_fixtures(), dialect="etherscan", api_key=ES_KEY, daily_limit=100) as server:
        stopped = _trace(server, db, env)
        _refusal(stopped, "daily", "00:00 UTC")
        partial = sqlite3.connect(db).execute("SELECT count(*) FROM transfers").fetchone()[0]
        assert partial > 0  # what the day's quota paid for is kept
        server.reset_day()
        resumed = _trace(server, db, env)
    assert resumed.exit_code == 0, resumed.output
    assert store_snapshot(db) == reference[1]


def test_blockscout_status_2_keeps_the_cursor_and_the_next_run_fills_the_range(tmp_path):
    chain = Chain.from_fixtures()
    contract = "0x" + "c1" * 20
    late = 21895400
    chain.records["txlistinternal"].append({
        "blockNumber": str(late), "timeStamp": "1740149000", "hash": "0x" + "ab" * 32, "from": contract,
        "to": EXPLOITER, "value": str(7 * 10**18), "contractAddress": "", "input": "", "type": "call",
        "gas": "2300", "gasUsed": "0", "traceId": "0", "isError": "0", "errCode": ""})
    db = tmp_path / "case.db"
    with ExplorerServer(chain, dialect="blockscout", pending_internal_from=late) as server:
        first = _trace(server, db, {}, hops="1")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["not_yet_indexed"] == [EXPLOITER]
    assert "could not be read in full" in first.stderr and "not indexed by the explorer yet" in first.stderr
    conn = sqlite3.connect(db)
    cursor = conn.execute("SELECT scanned_to FROM cursors WHERE address=? AND action='txlistinternal'",
                          (EXPLOITER,)).fetchone()
    conn.close()
    assert cursor is not None and cursor[0] < late  # not past the unprocessed range
    with ExplorerServer(chain, dialect="blockscout") as server:  # the indexer caught up
        second = _trace(server, db, {}, hops="1")
    assert second.exit_code == 0 and json.loads(second.stdout)["not_yet_indexed"] == []
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT amount FROM transfers WHERE kind='internal' AND to_addr=?", (EXPLOITER,)).fetchall()
    conn.close()
    assert stored == [(str(7 * 10**18),)]


@pytest.mark.parametrize("name,options,env,extra", DIALECTS, ids=IDS)
def test_doctor_names_the_dialect_key_and_page_of_each_service(name, options, env, extra, tmp_path):
    db = tmp_path / "case.db"
    with ExplorerServer(Chain.from_fixtures(), **options) as server:
        assert _trace(server, db, env, *extra, hops="0").exit_code == 0
        result = run_cli("doctor", "--db", db, "--explorer-url", server.url, "--json", *extra, env=env)
    assert result.exit_code == 0, result.output
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert all(c["ok"] for c in checks.values())
    assert checks["dialect"]["detail"].startswith(options["dialect"])
    assert "requests sent" in checks["today"]["detail"]
    if options["dialect"] == "etherscan":
        tier = "free or Lite" if options.get("tier") else "paid"
        assert checks["key"]["detail"] == "ETHERSCAN_API_KEY accepted" and tier in checks["page"]["detail"]
        assert "pages of 1,000 rows" in checks["page"]["detail"] or "10,000" in checks["page"]["detail"]
    elif options["dialect"] == "blockscout":
        assert "keyless" in checks["key"]["detail"] and "BLOCKSCOUT_API_KEY" in checks["key"]["detail"]
        assert "pages of 10,000 rows" in checks["page"]["detail"]
    for key in (ES_KEY, PRO_KEY):
        assert key not in result.output


def test_doctor_against_a_dead_endpoint_and_a_refused_key(tmp_path):
    dead = run_cli("doctor", "--db", tmp_path / "none.db", "--explorer-url", "http://127.0.0.1:9/api",
                   "--retries", "0")
    _refusal(dead, "cannot connect")
    assert not (tmp_path / "none.db").exists()
    with ExplorerServer(Chain.from_fixtures(), dialect="blockscout-pro", api_key=PRO_KEY) as server:
        refused = run_cli("doctor", "--explorer-url", server.url, "--explorer-dialect", "blockscout-pro",
                          "--db", tmp_path / "none.db", env={"BLOCKSCOUT_API_KEY": "proapi_wrong"})
    _refusal(refused, "HTTP 401", "BLOCKSCOUT_API_KEY")


def test_max_requests_stops_cleanly_and_the_next_run_goes_on(tmp_path, reference):
    db = tmp_path / "case.db"
    env = {"ETHERSCAN_API_KEY": ES_KEY}
    with ExplorerServer(Chain.from_fixtures(), dialect="etherscan", api_key=ES_KEY) as server:
        capped = _trace(server, db, env, "--max-requests", "30")
        _refusal(capped, "--max-requests 30")
        assert len(server.log) == 30
        resumed = _trace(server, db, env)
    assert resumed.exit_code == 0, resumed.output
    assert store_snapshot(db) == reference[1]


def test_doctor_checks_the_node_too(tmp_path):
    from anvil import Anvil

    with Anvil() as node:
        result = run_cli("doctor", "--source", "rpc", "--rpc-url", node.url, "--db", tmp_path / "x.db", "--json")
        wrong_chain = run_cli("doctor", "--source", "rpc", "--rpc-url", node.url, "--chain-id", "10",
                              "--db", tmp_path / "x.db")
    assert result.exit_code == 0, result.output
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert checks["node"]["ok"] and "on chain 1" in checks["node"]["detail"]
    assert checks["trace_filter"]["detail"].startswith("yes") and checks["archive"]["ok"]
    _refusal(wrong_chain, "chain")


def test_a_budget_smaller_than_a_hop_still_gets_the_case_done_night_after_night(tmp_path, reference):
    """--max-requests (or a daily quota) below one hop's first pages: each night keeps what it read, so the
    case completes in a few nights instead of paying for the same first pages every night."""
    db = tmp_path / "case.db"
    env = {"ETHERSCAN_API_KEY": ES_KEY}
    nights = []
    with ExplorerServer(Chain.from_fixtures(), dialect="etherscan", api_key=ES_KEY) as server:
        for _ in range(15):
            result = _trace(server, db, env, "--max-requests", "40")
            nights.append(result.exit_code)
            if result.exit_code == 0:
                break
            _refusal(result, "--max-requests 40")
    assert nights[-1] == 0 and len(nights) <= 8, nights
    assert store_snapshot(db) == reference[1]


def test_query_timeouts_split_the_range_once_and_keep_the_span_that_works():
    chain = Chain.from_fixtures()
    with ExplorerServer(chain, dialect="etherscan", timeout_over_blocks=100_000) as server:
        client = ExplorerClient(Endpoint(server.url, 1, 5.0, "t", "etherscan"), rate=1000, backoff=0.01)
        try:
            got = client.fetch_range("txlist", EXPLOITER, 0, chain.head)
        finally:
            client.close()
    assert len(got) == 41
    # ~22M blocks in spans that work (<= 100k blocks): about 220 requests plus the halvings, not thousands
    assert len(server.log) < chain.head // 100_000 * 1.5, len(server.log)


def test_a_single_timeout_on_one_block_is_retried():
    chain = Chain.from_fixtures()
    block = min(int(r["blockNumber"]) for r in chain.records["txlist"] if r["from"].lower() == EXPLOITER)
    with ExplorerServer(chain, dialect="etherscan") as server:
        client = ExplorerClient(Endpoint(server.url, 1, 5.0, "t", "etherscan"), rate=1000, backoff=0.01)
        server.faults.append("timeout")
        try:
            got = client.fetch_range("txlist", EXPLOITER, block, block)
        finally:
            client.close()
    assert got and all(t.block == block for t in got)


def test_an_etherscan_key_is_never_sent_to_an_unknown_host_that_turns_out_to_be_blockscout(tmp_path, reference):
    db = tmp_path / "case.db"
    with ExplorerServer(Chain.from_fixtures(), dialect="blockscout") as server:
        result = _trace(server, db, {"ETHERSCAN_API_KEY": ES_KEY})
        sent = [q for q in server.log if "apikey" in q]
    assert result.exit_code == 0, result.output
    assert sent == [] and store_snapshot(db) == reference[1]


def test_closing_the_client_ends_a_thread_still_reading_pages_so_the_process_can_exit(tmp_path):
    """A trace that stops while the next hop's first pages are read early closes its explorer with those
    calls still queued. Their reader must end: the executor's own cancel never wakes a caller waiting in
    as_completed, and every `tracer trace` then hung at exit (as the test suite did in CI)."""
    from tracer.errors import TracerError

    chain = Chain.from_fixtures()
    with ExplorerServer(chain, latency=0.2) as server:
        client = ExplorerClient(Endpoint(server.url, None, 1000.0, "t"), rate=1000, workers=2)
        client.head_block()
        outcome: list = []

        def read_early() -> None:
            try:
                outcome.extend(client.probes([(a, 0, chain.head) for a in _addresses_of(chain)[:40]]))
            except TracerError as exc:
                outcome.append(exc)

        reader = threading.Thread(target=read_early, daemon=True)
        reader.start()
        time.sleep(0.3)  # two calls under way, the rest queued
        client.close()
        reader.join(timeout=5.0)
        assert not reader.is_alive()
        assert isinstance(outcome[-1], TracerError) and "closed" in str(outcome[-1])
        assert not [t.name for t in threading.enumerate() if t.name.startswith("explorer")]


def _addresses_of(chain: Chain) -> list[str]:
    return sorted({r[k].lower() for rows in chain.records.values() for r in rows for k in ("from", "to")})
