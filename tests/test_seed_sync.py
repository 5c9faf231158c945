"""`tracer seeds sync`: Bybit's LazarusBounty feed served by a local HTTP server in its real shape (a sample of
the published capture, and a generated full-size feed with every known quirk), synced twice, and every bad
answer a server can give: one line, a non-zero exit, the store unchanged."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from conftest import EXPLOITER
from explorer_server import Chain, ExplorerServer
from helpers import run_cli
from tracer.chain_addresses import check

SAMPLE = Path(__file__).parent / "data" / "lazarusbounty" / "sample.json"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class FeedServer:
    """Serves `routes[path] = (status, content type, body, headers)`; counts requests per path."""

    def __init__(self):
        self.routes: dict[str, tuple[int, str, bytes, dict]] = {}
        self.hits: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.hits[self.path] = owner.hits.get(self.path, 0) + 1
                status, ctype, body, headers = owner.routes.get(self.path, (404, "text/plain", b"Not Found", {}))
                if callable(body):
                    body = body(owner.hits[self.path])
                    status, body = body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, path: str, body: bytes, status: int = 200, ctype: str = "application/json", **headers) -> str:
        self.routes[path] = (status, ctype, body, headers)
        return self.url + path

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed():
    server = FeedServer()
    yield server
    server.close()


def sync(db, url, *extra):
    return run_cli("seeds", "sync", "--url", url, "--db", db, "--json", *extra)


def seeds_table(db) -> list[tuple]:
    if not Path(db).exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return sorted(conn.execute("SELECT * FROM synced_seeds").fetchall())
    finally:
        conn.close()


def test_the_sample_syncs_with_its_quirks_counted_and_its_provenance_kept(feed, tmp_path):
    db = tmp_path / "case.db"
    body = SAMPLE.read_bytes()
    result = sync(db, feed.serve("/public/hack-address.json", body))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["sha256"] == hashlib.sha256(body).hexdigest() and out["added"] == 22 and out["removed"] == 0
    assert out["per_chain"] == {"bsc": 1, "btc": 13, "eth": 6, "solana": 1, "tron": 1}
    assert out["quirks"] == {"bad EIP-55 checksum (kept lowercased, flagged)": 1, "duplicate": 1, "empty entry": 1,
                             "entry holding several addresses": 1, "same address under several chains": 1,
                             "whitespace around an address": 1}
    listed = json.loads(run_cli("seeds", "--json", "--db", db, "--case", "bybit-2025-02").stdout)
    synced = {(s["chain"], s["address"]): s for s in listed if "source" in s}
    # the two addresses of one entry are two seeds; the mixed-case typo is kept lowercased and flagged
    assert ("btc", "bc1qjqp5etfs73xnykfxdmhzvy5qdcemraccvpqjqw") in synced
    assert ("btc", "bc1qe3hjx3xsplr4a85lczjvfts43cnra7u3m9a3t6") in synced
    typo = synced[("eth", "0x83c7678492d623fb98834f0fbcb2e7b7f5af8950")]
    assert typo["flags"] == ["bad-checksum"] and typo["source"] == "lazarusbounty"
    assert typo["url"].endswith("/public/hack-address.json") and typo["sha256"] == out["sha256"]
    assert typo["first_seen"] == typo["last_seen"] == out["fetched_at"]
    assert synced[("btc", "1CBU5F3evKTWPuPGWtsN5zofxm2oqCVMc2")]["address"] == "1CBU5F3evKTWPuPGWtsN5zofxm2oqCVMc2"
    counts = run_cli("seeds", "--db", db).stdout
    assert "lazarusbounty\tbtc\t13" in counts and "lazarusbounty\ttron\t1\tno (chain not supported)" in counts


def test_a_second_sync_says_exactly_what_was_added_and_removed(feed, tmp_path):
    db = tmp_path / "case.db"
    doc = json.loads(SAMPLE.read_text())
    url = feed.serve("/feed.json", json.dumps(doc).encode())
    first = sync(db, url, "--fail-on-new")
    assert first.exit_code == 3, first.output  # new addresses: cron's signal
    assert sync(db, url, "--fail-on-new").exit_code == 0  # the same document: nothing new
    gone = doc["0221"]["btc"].pop(0)
    doc["0221"]["eth"].append("0x098B716B8Aaf21512996dC57EB0615e2383E2f96")
    doc["0315"] = {"eth": ["0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4"]}  # a new incident: a case of its own
    feed.serve("/feed.json", json.dumps(doc).encode())
    third = sync(db, url, "--fail-on-new")
    assert third.exit_code == 3
    out = json.loads(third.stdout)
    assert (out["added"], out["removed"]) == (2, 1)
    assert out["changes"] == [
        {"case": "bybit-2025-02", "chain": "btc", "added": [], "removed": [gone]},
        {"case": "bybit-2025-02", "chain": "eth", "added": ["0x098b716b8aaf21512996dc57eb0615e2383e2f96"], "removed": []},
        {"case": "lazarusbounty-0315", "chain": "eth", "added": ["0x1db92e2eebc8e0c075a02bea49a2935bcd2dfcf4"],
         "removed": []},
    ]
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT removed_at, first_seen FROM synced_seeds WHERE address=?", (gone,)).fetchone()
    syncs = conn.execute("SELECT added, removed FROM seed_syncs ORDER BY id").fetchall()
    conn.close()
    assert row[0] is not None and row[1] <= row[0]  # kept, with the date it was no longer listed
    assert syncs == [(22, 0), (0, 0), (2, 1)]
    listed = json.loads(run_cli("seeds", "--json", "--db", db, "--case", "bybit-2025-02", "--chain", "btc").stdout)
    assert gone not in {s["address"] for s in listed} and len(listed) == 12


def _b58(raw: bytes) -> str:
    n = int.from_bytes(raw, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def _p2pkh(i: int) -> str:
    payload = b"\0" + hashlib.sha256(f"btc-{i}".encode()).digest()[:20]
    return _b58(payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4])


def full_size_feed() -> tuple[dict, int]:
    """12,000 Ethereum and 12,000 Bitcoin entries with every quirk: mixed and lower case, a bad checksum,
    whitespace, two addresses in one entry, duplicates, empty strings, non-addresses, an unknown chain key.
    Returns (document, how many distinct valid seeds it holds)."""
    eth, btc = [], []
    for i in range(12_000):
        address = "0x" + hashlib.sha256(f"eth-{i}".encode()).hexdigest()[:40]
        eth.append(to_checksum_address(address) if i % 2 else address)
        btc.append(_p2pkh(i))
    eth[5] = " " + eth[5] + "\n"
    eth[7] = eth[7][:2] + eth[7][2:].swapcase() if eth[7][2:] != eth[7][2:].lower() else eth[7]
    eth += [eth[10].lower(), "", "0xnotanaddress"]
    btc[3] = btc[3] + " " + _p2pkh(99_999)
    btc += [btc[11], "bc1qnotvalid"]
    doc = {"0221": {"eth": eth, "btc": btc, "bsc": eth[:100], "solana": [], "tron": [], "ton": ["EQsomething"]}}
    return doc, 12_000 + 12_001 + 100 + 1


def test_the_full_size_feed_syncs_every_address_and_counts_every_quirk(feed, tmp_path):
    db = tmp_path / "case.db"
    doc, expected = full_size_feed()
    result = sync(db, feed.serve("/full.json", json.dumps(doc).encode()))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["seeds"] == expected and out["added"] == expected
    assert out["per_chain"] == {"bsc": 100, "btc": 12_001, "eth": 12_000, "ton": 1}
    assert out["quirks"]["duplicate"] == 2 and out["quirks"]["empty entry"] == 1
    assert out["quirks"]["entry holding several addresses"] == 1 and out["quirks"]["unsupported chain ton"] == 1
    assert out["quirks"]["same address under several chains"] == 100
    assert {r["entry"] for r in out["rejected_entries"]} == {"0xnotanaddress", "bc1qnotvalid"}
    assert out["quirks"].get("bad EIP-55 checksum (kept lowercased, flagged)") == 2  # in eth, and its bsc copy
    rows = seeds_table(db)
    assert len(rows) == expected and all(check(r[1], r[2]).address == r[2] for r in rows if r[1] in ("eth", "btc"))


@pytest.mark.parametrize("route, says", [
    ((200, "text/html", b"<!DOCTYPE html><html><body>Just a moment...</body></html>", {}), "HTML page"),
    ((200, "application/json", b'{"0221": {"eth": ["0x51E9d833Ecae4E8D9D8Be17300AEE6D3398C135D", "0x96', {}), "not JSON"),
    ((200, "application/json", b'["0x51E9d833Ecae4E8D9D8Be17300AEE6D3398C135D"]', {}), "not the feed's shape"),
    ((404, "text/plain", b"Not Found", {}), "HTTP 404"),
    ((429, "text/plain", b"Too Many Requests", {"Retry-After": "0"}), "failed 4 times (HTTP 429)"),
    ((500, "text/html", b"<h1>oops</h1>", {"Retry-After": "0"}), "failed 4 times (HTTP 500)"),
    ((200, "application/json", b"[" + b" " * (51 * 1024 * 1024) + b"]", {}), "larger than 50 MB"),
    # an error object has the feed's dict-of-dicts shape: syncing it would mark everything removed
    ((200, "application/json", b'{"error": {"message": "service temporarily unavailable"}}', {}), "no address"),
    ((200, "application/json", b'{"0221": {"eth": [' + b"9" * 5000 + b"]}}", {}), "not JSON this tool reads"),
])
def test_a_bad_answer_is_one_line_a_non_zero_exit_and_the_store_unchanged(feed, tmp_path, route, says):
    db = tmp_path / "case.db"
    good = feed.serve("/good.json", SAMPLE.read_bytes())
    assert sync(db, good).exit_code == 0
    before = seeds_table(db)
    feed.routes["/bad.json"] = route
    result = sync(db, feed.url + "/bad.json")
    assert result.exit_code != 0 and says in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert seeds_table(db) == before


def test_a_server_that_refuses_then_answers_is_waited_for(feed, tmp_path):
    answers = iter([(429, b"slow down"), (200, SAMPLE.read_bytes())])
    feed.routes["/flaky.json"] = (200, "application/json", lambda n: next(answers), {"Retry-After": "0"})
    result = sync(tmp_path / "case.db", feed.url + "/flaky.json")
    assert result.exit_code == 0 and json.loads(result.stdout)["added"] == 22 and feed.hits["/flaky.json"] == 2


def test_a_file_in_the_feeds_shape_and_the_fbi_list_are_sources_too(tmp_path):
    db = tmp_path / "case.db"
    result = run_cli("seeds", "sync", "--source", SAMPLE, "--db", db, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["source"] == str(SAMPLE.resolve())
    fbi = json.loads(run_cli("seeds", "sync", "--source", "fbi", "--db", db, "--json").stdout)
    assert fbi["added"] == 51 and fbi["per_chain"] == {"eth": 51}
    missing = run_cli("seeds", "sync", "--source", tmp_path / "nowhere.json", "--db", db)
    assert missing.exit_code == 2 and "nowhere.json" in missing.stderr


def test_trace_case_starts_from_every_synced_ethereum_seed_of_the_case(feed, tmp_path):
    db = tmp_path / "case.db"
    doc = {"0999": {"eth": [EXPLOITER], "btc": ["1CBU5F3evKTWPuPGWtsN5zofxm2oqCVMc2"]}}
    assert sync(db, feed.serve("/f.json", json.dumps(doc).encode())).exit_code == 0
    with ExplorerServer(Chain.from_fixtures()) as server:
        result = run_cli("trace", "--case", "lazarusbounty-0999", "--db", db, "--explorer-url", server.url,
                         "--rate", "200", "--hops", "0", "--json", "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["seeds"] == [EXPLOITER]  # the Bitcoin seed is stored, not traced on Ethereum
    unknown = run_cli("trace", "--case", "lazarusbounty-1231", "--db", db)
    assert unknown.exit_code == 2 and "unknown case" in unknown.stderr


def test_a_document_that_lost_most_of_the_list_is_refused_unless_accepted(feed, tmp_path):
    db = tmp_path / "case.db"
    doc, _ = full_size_feed()
    url = feed.serve("/feed.json", json.dumps(doc).encode())
    assert sync(db, url).exit_code == 0
    doc["0221"]["btc"] = doc["0221"]["btc"][:100]  # 23,800 of 24,102 addresses gone at once
    doc["0221"]["eth"] = doc["0221"]["eth"][:100]
    feed.serve("/feed.json", json.dumps(doc).encode())
    before = seeds_table(db)
    refused = sync(db, url)
    assert refused.exit_code == 2 and "no longer lists 23,800 of the 24,102" in refused.stderr, refused.stderr
    assert seeds_table(db) == before
    accepted = sync(db, url, "--accept-removals")
    assert accepted.exit_code == 0 and json.loads(accepted.stdout)["removed"] == 23_800


def test_seeds_db_is_where_sync_writes_and_sources_are_named_by_where_they_are(tmp_path):
    db = tmp_path / "wanted.db"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "feed.json", tmp_path / "b" / "feed.json"
    first.write_text('{"0221": {"eth": ["0x51E9d833Ecae4E8D9D8Be17300AEE6D3398C135D"]}}')
    second.write_text('{"0221": {"eth": ["0x96244D83DC15d36847C35209bBDc5bdDE9bEc3D8"]}}')
    assert run_cli("seeds", "--db", db, "sync", "--source", first).exit_code == 0 and db.exists()
    out = json.loads(run_cli("seeds", "--db", db, "sync", "--source", second, "--json").stdout)
    assert (out["added"], out["removed"]) == (1, 0)  # two files called feed.json are two sources
    assert len(seeds_table(db)) == 2


def test_hostile_entries_never_reach_the_terminal_or_the_store(feed, tmp_path):
    db = tmp_path / "case.db"
    doc = json.loads(SAMPLE.read_text())
    doc["0221"]["ton"] = ["\u001b]0;PWNED\u0007", "\ud800", "EQvalidlooking_123"]
    result = sync(db, feed.serve("/f.json", json.dumps(doc).encode()))
    assert result.exit_code == 0, result.output
    assert result.stdout.isascii() and "\x1b" not in result.stdout
    listed = run_cli("seeds", "--db", db, "--list", "--chain", "ton").stdout
    assert "EQvalidlooking_123" in listed and "\x1b" not in listed and "PWNED" not in listed


OFAC = Path(__file__).parent / "data" / "ofac"
RONIN = "0x098b716b8aaf21512996dc57eb0615e2383e2f96"


def test_ofac_gives_the_addresses_its_sdn_list_ties_to_lazarus_group_and_no_others(tmp_path):
    db = tmp_path / "case.db"
    result = run_cli("seeds", "sync", "--source", "ofac", "--url", OFAC / "sdn.csv", "--db", db, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["source"] == "ofac" and out["per_chain"] == {"btc": 1, "eth": 5, "ltc": 1, "tron": 1}
    listed = json.loads(run_cli("seeds", "--json", "--db", db, "--case", "ofac-lazarus-group").stdout)
    eth = {s["address"]: s["flags"] for s in listed if s["chain"] == "eth"}
    assert eth == {
        RONIN: [], "0xa8de5aafdbb69f1d21b2506f33c423bb2ad0c897": [],
        "0xb5bb75dac38e43d694d80362db2d5afd8838fe43": [],  # cut in sdn.csv, its end in sdn_comments.csv
        "0x2d61618e7e1b08b7eeac6ee0d76f1eb9c9fbda7f": [],  # an entry "Linked To: LAZARUS GROUP."
        "0x60023288d8337162087055844a0bfd41eadc4bfd": ["bad-checksum"],
    }  # and not the unrelated entry's (a made-up mixer's, and Tornado Cash's 0.1 ETH pool)
    assert {s["address"] for s in listed if s["chain"] == "tron"} == {"TNCKGnu86VP5dRdktExv6emd8i6weN8zkU"}
    assert out["quirks"]["duplicate"] == 1 and out["quirks"]["entries tied to Lazarus Group"] == 2
    assert out["quirks"]["sdn_comments.csv row not 2 fields"] == 1
    assert out["quirks"]["remarks split by a stray quote (joined back)"] == 1  # the linked entry's a.k.a. "…",
    again = json.loads(run_cli("seeds", "sync", "--source", "ofac", "--url", OFAC / "sdn.csv", "--db", db,
                               "--json").stdout)
    assert again["added"] == again["removed"] == 0 and again["sha256"] == out["sha256"]


def test_ofac_from_a_server_reads_the_comments_beside_sdn_csv_or_changes_nothing(feed, tmp_path):
    db = tmp_path / "case.db"
    assert run_cli("seeds", "sync", "--source", "fbi", "--db", db).exit_code == 0
    before = seeds_table(db)
    sdn_url = feed.serve("/downloads/sdn.csv", (OFAC / "sdn.csv").read_bytes(), ctype="text/csv")

    def ofac(url=sdn_url):
        return run_cli("seeds", "sync", "--source", "ofac", "--url", url, "--db", db, "--json")

    missing = ofac()  # without the comments, Lazarus Group's remarks are cut: refused, never half-synced
    assert missing.exit_code != 0 and "sdn_comments.csv" in missing.stderr
    assert "answered HTTP 404" in missing.stderr, missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and seeds_table(db) == before
    feed.serve("/downloads/sdn_comments.csv", (OFAC / "sdn_comments.csv").read_bytes(), ctype="text/csv")
    result = ofac()
    assert result.exit_code == 0 and json.loads(result.stdout)["added"] == 8, result.output
    assert feed.hits == {"/downloads/sdn.csv": 2, "/downloads/sdn_comments.csv": 2}  # (a 404 is not retried)
    after = seeds_table(db)
    # a per-asset list derived from the SDN list (0xB10C's) does not say whose an address is: refused
    derived = feed.serve("/lists/sdn.csv", json.dumps([RONIN]).encode())
    feed.serve("/lists/sdn_comments.csv", b"")
    refused = ofac(derived)
    assert refused.exit_code != 0 and "not OFAC's sdn.csv" in refused.stderr, refused.stderr
    html = feed.serve("/moved/sdn.csv", b"<!DOCTYPE html><p>moved</p>", ctype="text/html")
    feed.serve("/moved/sdn_comments.csv", b"<!DOCTYPE html><p>moved</p>", ctype="text/html")
    assert "HTML page" in ofac(html).stderr
    assert seeds_table(db) == after


def test_ofac_refuses_a_comments_file_that_does_not_continue_lazarus_groups_cut_remarks(tmp_path):
    """sdn.csv holds 1,000 characters of a remark; an empty, truncated or older sdn_comments.csv would silently
    drop the rest of Lazarus Group's addresses (and mark them removed): refused, the store unchanged."""
    db = tmp_path / "case.db"
    good = run_cli("seeds", "sync", "--source", "ofac", "--url", OFAC / "sdn.csv", "--db", db)
    assert good.exit_code == 0, good.output
    before = seeds_table(db)
    for name, comments in (("empty", b""), ("stale", b'30009,"an entry of another list"\r\n')):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "sdn.csv").write_bytes((OFAC / "sdn.csv").read_bytes())
        (folder / "sdn_comments.csv").write_bytes(comments)
        result = run_cli("seeds", "sync", "--source", "ofac", "--url", folder / "sdn.csv", "--db", db)
        assert result.exit_code != 0 and "cut at 1000 characters" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert seeds_table(db) == before
    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / "SDN.CSV").write_bytes((OFAC / "sdn.csv").read_bytes())
    (upper / "SDN_COMMENTS.CSV").write_bytes((OFAC / "sdn_comments.csv").read_bytes())
    same = run_cli("seeds", "sync", "--source", "ofac", "--url", upper / "SDN.CSV", "--db", db, "--json")
    assert same.exit_code == 0 and json.loads(same.stdout)["added"] == 0, same.output
