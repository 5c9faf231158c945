"""Issue 11, C7/C8: a malformed or out-of-place explorer record is skipped, counted and named; the rest is kept.

C7: a negative, huge or non-integer value, a bad hash, a missing field or a row that is not an object
used to abort the whole run. C8: rows outside the blocks asked for, or about neither queried address,
used to be stored (one set a reach block far in the future). Both now end in Source.rejected.
"""

from __future__ import annotations

import copy
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EXPLOITER, HOP1_CONSOLIDATION
from explorer_server import Chain, ExplorerServer
from helpers import store_snapshot, trace
from tracer.errors import MalformedResponseError
from tracer.models import ZERO_VALUE
from tracer.records import REASON_LIMIT, RejectedRecord, parse_rows, row_problem
from tracer.sources.explorer import Endpoint, ExplorerClient

A = "0x47666fab8bd0ac7003bce3f5c3585383f09486e2"  # the address asked for
B = "0x9a99359a788044412892e81f5a7391c236bc6a7b"
C = "0x4e6f48362463a24ab31dc7d4aebcc435aa2d916a"
X = "0x1111111111111111111111111111111111111111"  # strangers
Y = "0x2222222222222222222222222222222222222222"
TOKEN = "0x2a120e7f2f1d8ffd173ed17aa5089f11206b5177"
START, END = 100, 200


def tx(n: int) -> str:
    return "0x" + f"{n:064x}"


def native(n: int, **extra) -> dict:
    r = {"blockNumber": "150", "timeStamp": "1740148187", "hash": tx(n), "from": A, "to": B,
         "value": str(10**18 + n), "isError": "0", "txreceipt_status": "1", "input": "0x", "contractAddress": ""}
    r.update(extra)
    return r


def token(n: int, **extra) -> dict:
    r = {"blockNumber": "150", "timeStamp": "1740148187", "hash": tx(n), "from": B, "to": A, "value": str(n + 1),
         "contractAddress": TOKEN, "tokenSymbol": "SPAM", "tokenDecimal": "18", "logIndex": "3"}
    r.update(extra)
    return r


def parse(action, rows, address=A, start=START, end=END):
    rejected: list[RejectedRecord] = []
    return parse_rows(action, rows, address, start, end, rejected=rejected), rejected


def without(row: dict, name: str) -> dict:
    r = dict(row)
    del r[name]
    return r


# ---- (a) each kind of bad row, among good ones --------------------------------------------------

BAD_NATIVE = [
    ("not an object: text", "oops", "not a JSON object (a string)"),
    ("not an object: number", 42, "not a JSON object (a number)"),
    ("not an object: null", None, "not a JSON object (null)"),
    ("not an object: array", [native(9)], "not a JSON object (an array)"),
    ("negative value", native(9, value="-10000000000000000000000"), "value is negative"),
    ("huge value", native(9, value="9" * 79), "value is too large"),
    ("value above uint256", native(9, value=str(2**256)), "value is too large"),
    ("fractional value", native(9, value="1.5"), "value is not a decimal integer"),
    ("hex value", native(9, value="0x10"), "value is not a decimal integer"),
    ("value as a float", native(9, value=1.5), "value is not a decimal integer"),
    ("missing value", without(native(9), "value"), "missing value"),
    ("short hash", native(9, hash="0x12"), "hash is not a transaction hash"),
    ("non-hex hash", native(9, hash="0x" + "zz" * 32), "hash is not a transaction hash"),
    ("missing hash", without(native(9), "hash"), "missing hash"),
    ("missing from", without(native(9), "from"), "missing from"),
    ("missing to", without(native(9), "to"), "missing to"),
    ("bad from", native(9, **{"from": "0x123"}), "from is not an address"),
    ("bad to", native(9, to="not-an-address"), "to is not an address"),
    ("creation without a contract", native(9, to="", contractAddress=""), "neither a recipient"),
    ("word block", native(9, blockNumber="abc"), "blockNumber is not a decimal integer"),
    ("absurd block", native(9, blockNumber="9" * 40), "blockNumber is too large"),
    ("missing block", without(native(9), "blockNumber"), "missing blockNumber"),
    ("absurd time", native(9, timeStamp="9" * 20), "timeStamp is too large"),
    ("garbage isError", native(9, isError="x"), "isError is not 0 or 1"),
    ("garbage receipt status", native(9, txreceipt_status=[1]), "txreceipt_status is not 0 or 1"),
    ("block before the range", native(9, blockNumber=str(START - 1)), "block 99 is outside the blocks asked for"),
    ("block after the range", native(9, blockNumber="999999999"), "block 999999999 is outside the blocks asked"),
    ("neither address", native(9, **{"from": X, "to": Y}), "neither side is the address asked for"),
]


@pytest.mark.parametrize("case,bad,reason", BAD_NATIVE, ids=[c[0] for c in BAD_NATIVE])
def test_one_bad_native_row_is_rejected_and_the_good_rows_kept(case, bad, reason):
    rows = [native(1), bad, native(2, blockNumber=str(END)), native(3, blockNumber=str(START), **{"from": B, "to": A})]
    transfers, rejected = parse("txlist", rows)
    assert [t.tx_hash for t in transfers] == [tx(1), tx(2), tx(3)]
    (r,) = rejected
    assert reason in r.reason, r.reason
    assert r.address == A and r.action == "txlist"
    readable_hash = isinstance(bad, dict) and bad.get("hash") == tx(9)
    assert r.tx_hash == (tx(9) if readable_hash else "")
    if isinstance(bad, dict) and str(bad.get("blockNumber", "")).isdigit() and len(bad["blockNumber"]) < 19:
        assert r.block == int(bad["blockNumber"])
    else:
        assert r.block is None
    assert r.reason.isprintable() and len(r.reason) <= REASON_LIMIT


BAD_TOKEN = [
    ("negative value", token(9, value="-1"), "value is negative"),
    ("empty to", token(9, to=""), "to is not an address"),
    ("bad token contract", token(9, contractAddress="0xnope"), "contractAddress is not an address"),
    ("missing token contract", without(token(9), "contractAddress"), "missing contractAddress"),
    ("the token itself is not a side", token(9, **{"from": X, "to": Y, "contractAddress": A}),
     "neither side is the address asked for"),
    ("far-future block", token(9, blockNumber=str(10**12)), "outside the blocks asked for"),
]


@pytest.mark.parametrize("case,bad,reason", BAD_TOKEN, ids=[c[0] for c in BAD_TOKEN])
def test_one_bad_token_row_is_rejected_and_the_good_rows_kept(case, bad, reason):
    transfers, rejected = parse("tokentx", [token(1), bad, token(2)])
    assert [t.tx_hash for t in transfers] == [tx(1), tx(2)]
    (r,) = rejected
    assert reason in r.reason and r.action == "tokentx"


def test_lenient_fields_keep_the_row():
    """Display text and scale that cannot be read do not cost the transfer: its amount is what matters."""
    rows = [token(1, tokenDecimal="300"), token(2, tokenDecimal="²"), token(3, tokenSymbol={"evil": 1}),
            token(4, tokenSymbol=7, logIndex="9" * 40), token(5, value="0")]
    transfers, rejected = parse("tokentx", rows)
    assert rejected == []
    assert [t.decimals for t in transfers[:2]] == [0, 0]
    assert transfers[2].asset == "" and transfers[3].asset == "7" and transfers[3].log_index is None
    assert ZERO_VALUE in transfers[4].flags


def test_dropped_rows_are_not_rejects():
    """Failed transactions and zero-value calls moved nothing: dropped quietly, as before."""
    rows = [native(1, isError="1"), native(2, txreceipt_status="0"), native(3, value="0"), native(4)]
    transfers, rejected = parse("txlist", rows)
    assert [t.tx_hash for t in transfers] == [tx(4)] and rejected == []


def test_contract_creation_and_blockscout_internal_rows():
    created = native(1, to="", contractAddress=C, **{"from": A})
    made_for_us = native(2, to="", contractAddress=A, **{"from": X})  # the asked-for address was created
    (t1, t2), rejected = parse("txlist", [created, made_for_us])
    assert (t1.to_addr, t2.to_addr) == (C, A) and rejected == []
    blockscout = without(native(3), "hash") | {"transactionHash": tx(3), "index": "0", "callType": "call"}
    (t3,), rejected = parse("txlistinternal", [blockscout])
    assert t3.tx_hash == tx(3) and rejected == []


def test_hostile_text_in_a_reason_is_escaped_and_bounded():
    bad = native(1, value="\x1b[2J\u202e" + "9" * 500)
    _, (r,) = parse("txlist", [bad])
    assert r.reason.isprintable() and r.reason.isascii() and len(r.reason) <= REASON_LIMIT
    assert "\\x1b" in r.reason and "\\u202e" in r.reason


def test_without_an_address_or_range_only_shape_is_checked():
    """The benchmark's call (no address, no range) still parses and still skips malformed rows."""
    assert len(parse_rows("txlist", [native(1, blockNumber="10**9"), native(2, **{"from": X})])) == 1


# ---- (b) property: every row is parsed, dropped for a reason, or rejected ---------------------------

BAD_VALUES = {
    "hash": ["0x12", "", 5, None, "0x" + "z" * 64, "0x" + "a" * 63, "0x" + "a" * 65],
    "blockNumber": ["-1", "abc", "1.5", "9" * 30, None, [1], "0x10", "", 1.0],
    "timeStamp": ["-5", "9" * 20, "x", {}, None],
    "from": ["0x123", "", 5, "0x" + "g" * 40, None, "0x" + "a" * 41],
    "to": ["0x1", 7, "0x" + "q" * 40, ["0x"]],
    "value": ["-1", "1.5", "1e3", "9" * 79, str(2**256), None, "", "0x10", True, -5, 2**256],
    "isError": ["x", "2", [1], 1.5],
}
NOT_OBJECTS = ["oops", 3, None, [1, 2], True, 1.5]


@st.composite
def labelled_row(draw, action: str, n: int):
    """(row, expected outcome) with the outcome known by construction: "parsed", "dropped" or "rejected"."""
    make = token if action == "tokentx" else native
    shape = draw(st.sampled_from(["good", "good", "good", "failed", "zero", "bad field", "not object",
                                  "out of range", "stranger"]))
    row = make(n, blockNumber=str(draw(st.integers(START, END))))
    if draw(st.booleans()):
        row["from"], row["to"] = row["to"], row["from"]
    if shape == "good":
        return row, "parsed"
    if shape == "failed":
        if action == "tokentx":
            return row, "parsed"  # token rows carry no failure flag
        row.update(isError="1") if draw(st.booleans()) or action != "txlist" else row.update(txreceipt_status="0")
        return row, "dropped"
    if shape == "zero":
        row["value"] = "0"
        return row, ("parsed" if action == "tokentx" else "dropped")
    if shape == "not object":
        return draw(st.sampled_from(NOT_OBJECTS)), "rejected"
    if shape == "out of range":
        row["blockNumber"] = str(draw(st.one_of(st.integers(0, START - 1), st.integers(END + 1, 10**15))))
        return row, "rejected"
    if shape == "stranger":
        row["from"], row["to"] = X, Y
        return row, "rejected"
    fields = [f for f in BAD_VALUES if not (f == "isError" and action == "tokentx")]
    name = draw(st.sampled_from(fields))
    if draw(st.booleans()) and name not in ("to",):
        del row[name]
    else:
        row[name] = copy.deepcopy(draw(st.sampled_from(BAD_VALUES[name])))
    if name == "isError" and row.get(name) is None:
        return row, "parsed"  # an absent isError means success
    return row, "rejected"


@st.composite
def history(draw):
    action = draw(st.sampled_from(["txlist", "txlistinternal", "tokentx"]))
    count = draw(st.integers(0, 12))
    return action, [draw(labelled_row(action, n)) for n in range(count)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history())
def test_every_row_is_parsed_dropped_or_rejected(case):
    action, labelled = case
    rows = [r for r, _ in labelled]
    transfers, rejected = parse(action, rows)
    expected = {o: [r for r, out in labelled if out == o] for o in ("parsed", "dropped", "rejected")}
    assert sorted(t.tx_hash for t in transfers) == sorted(r["hash"] for r in expected["parsed"])
    assert len(rejected) == len(expected["rejected"])
    assert len(transfers) + len(rejected) + len(expected["dropped"]) == len(rows)
    for t in transfers:
        assert START <= t.block <= END and A in (t.from_addr, t.to_addr) and 0 <= t.amount < 2**256
    for r in rejected:
        assert r.address == A and r.action == action and r.reason.isprintable() and len(r.reason) <= REASON_LIMIT
    for r, out in labelled:  # the probe's "is it well-formed" agrees with parse_rows
        assert (row_problem(action, r, A, START, END) is None) == (out != "rejected")


junk = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["txlist", "txlistinternal", "tokentx"]),
       st.lists(st.one_of(st.builds(lambda f, v: native(1, **{f: v}),
                                    st.sampled_from(list(native(1))), junk), junk), max_size=6))
def test_any_junk_is_skipped_never_raised(action, rows):
    transfers, rejected = parse(action, rows)
    assert len(transfers) + len(rejected) <= len(rows)
    for t in transfers:
        assert len(t.tx_hash) == 66 and START <= t.block <= END and 0 <= t.amount < 2**256


# ---- paging through hostile pages (explorer client, scripted pages) -----------------------------

class ScriptedExplorer(ExplorerClient):
    """The real paging over scripted answers: good rows in block order, hostile rows added to each answer."""

    def __init__(self, good: list[dict], hostile: list, where: str = "front", page_size: int = 4,
                 ignore_start: bool = False):
        super().__init__(Endpoint("http://127.0.0.1:9/api", 1, 100.0, "scripted", "etherscan"), page_size=page_size)
        self.good, self.hostile, self.where, self.ignore_start = good, hostile, where, ignore_start
        self.calls = 0

    def _account(self, action, address, start, end, page, offset):
        self.calls += 1
        assert self.calls < 500, "paging does not end"
        lo = START if self.ignore_start else start
        rows = [r for r in self.good if lo <= int(r["blockNumber"]) <= end]
        if self.where == "front":
            rows = self.hostile + rows
        elif self.where == "back":
            rows = rows + self.hostile
        else:  # the same hostile rows on every page
            return (rows[(page - 1) * (offset - len(self.hostile)): page * (offset - len(self.hostile))]
                    + self.hostile)
        return rows[(page - 1) * offset: page * offset]


def good_rows() -> list[dict]:
    rows = []
    for i, block in enumerate([100, 100, 101, 103, 103, 103, 103, 103, 103, 150, 151, 152, 199, 200]):
        rows.append(native(i + 1, blockNumber=str(block)))
    return rows


HOSTILE = [
    "oops",
    native(900, blockNumber="abc"),  # no readable block: must not steer the cursor
    native(901, blockNumber=str(10**12)),  # far in the future
    native(902, value="-5"),  # in range, malformed
    native(903, **{"from": X, "to": Y}),  # nobody's
]
HOSTILE_REASONS = ["not a JSON object (a string)", "blockNumber is not a decimal integer: 'abc'",
                   "block 1000000000000 is outside the blocks asked for (100..200)", "value is negative",
                   "neither side is the address asked for"]


@pytest.mark.parametrize("where", ["front", "back", "every page"])
@pytest.mark.parametrize("page_size", [7, 8, 10, 100])
def test_hostile_rows_neither_lose_good_rows_nor_stop_paging(where, page_size):
    hostile = HOSTILE if where != "every page" else HOSTILE[:3]
    c = ScriptedExplorer(good_rows(), hostile, where, page_size=page_size)
    transfers = c.fetch_range("txlist", A, START, END)
    assert sorted(t.tx_hash for t in transfers) == sorted(r["hash"] for r in good_rows())
    reasons = sorted(r.reason for r in c.rejected)
    assert len(reasons) == len(hostile), reasons  # however many pages repeat it, each hostile row counts once
    assert reasons == sorted(HOSTILE_REASONS[: len(hostile)])
    assert {r.address for r in c.rejected} == {A}


def test_a_malformed_row_of_a_block_served_on_every_page_counts_once():
    bad = native(902, value="-5", blockNumber=str(START))
    c = ScriptedExplorer(good_rows(), [bad], "every page", page_size=4)
    transfers = c.fetch_range("txlist", A, START, END)
    assert sorted(t.tx_hash for t in transfers) == sorted(r["hash"] for r in good_rows())
    assert [r.reason for r in c.rejected] == ["value is negative"]


def test_an_explorer_ignoring_the_start_block_stops_that_address_not_a_loop():
    c = ScriptedExplorer(good_rows(), [], "front", page_size=4, ignore_start=True)
    c.fetch_range("txlist", A, START, END)
    assert c.calls < 10
    assert c.take_incomplete(A) == {"txlist"}  # its cursor stays: the next run asks again
    assert any("without one usable record" in r.reason for r in c.rejected)


def test_a_full_page_of_garbage_stops_that_address_and_names_it():
    """One address's unreadable history must not stop the case: named, kept for the next run."""
    c = ScriptedExplorer([], ["oops"] * 4, "front", page_size=4)
    assert c.fetch_range("txlist", A, START, END) == []
    assert c.calls == 1
    assert c.take_incomplete(A) == {"txlist"}
    reasons = [r.reason for r in c.rejected]
    assert reasons.count("not a JSON object (a string)") == 4 and any("without one usable" in r for r in reasons)


def test_the_probe_rejects_and_ignores_bad_rows_as_proof_of_sending():
    """A malformed row "from" the address is no proof it signed anything (it might be a contract)."""
    c = ScriptedExplorer([native(1, **{"from": B, "to": A})], [native(2, value="-1"), native(3, hash="0x1")])
    probe = c.probe(A, START, END)
    assert probe.sent is False and [t.tx_hash for t in probe.transfers] == [tx(1)]
    assert sorted(r.reason for r in c.rejected) == ["hash is not a transaction hash: '0x1'", "value is negative"]
    failed = ScriptedExplorer([native(4, isError="1")], [])
    assert failed.probe(A, START, END).sent is True  # a failed transaction was still signed by it


# ---- (c) end to end: a trace through the real client and the local Etherscan-shaped server --------

FUTURE_TO = "0x3333333333333333333333333333333333333333"
NEGATIVE_TO = "0x4444444444444444444444444444444444444444"
BAD_HASH_TO = "0x5555555555555555555555555555555555555555"


def hostile_seed_rows(chain: Chain) -> list:
    template = next(r for r in chain.records["txlist"] if r["from"].lower() == EXPLOITER and r["value"] != "0")
    ten_k = str(10_000 * 10**18)
    return [
        {**template, "hash": tx(0xBAD1), "to": NEGATIVE_TO, "value": "-" + ten_k},
        {**template, "hash": "0x12", "to": BAD_HASH_TO, "value": ten_k},
        "this is not a record",
        {**template, "hash": tx(0xBAD2), "to": FUTURE_TO, "value": ten_k, "blockNumber": str(10**12)},
        {**template, "hash": tx(0xBAD3), "from": X, "to": Y, "value": ten_k},
    ]


@pytest.fixture
def captured(monkeypatch):
    """Every ExplorerClient the CLI builds, to read its .rejected after the run."""
    import tracer.sources.select as select

    made: list[ExplorerClient] = []

    class Capturing(ExplorerClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(select, "ExplorerClient", Capturing)
    return made


def test_a_trace_with_hostile_rows_stores_the_good_transfers_and_names_the_bad(tmp_path, captured):
    clean_chain = Chain.from_fixtures()
    with ExplorerServer(clean_chain) as server:
        trace(server, tmp_path / "clean.db")
    assert captured[0].rejected == []

    chain = Chain.from_fixtures()
    chain.injected[("txlist", EXPLOITER)] = hostile_seed_rows(chain)
    with ExplorerServer(chain) as server:
        trace(server, tmp_path / "hostile.db")  # exit code 0, asserted by the helper

    assert store_snapshot(tmp_path / "hostile.db") == store_snapshot(tmp_path / "clean.db")
    conn = sqlite3.connect(tmp_path / "hostile.db")
    try:
        stored = {h for (h,) in conn.execute("SELECT tx_hash FROM transfers")}
        addresses = {a for (a,) in conn.execute("SELECT address FROM addresses")}
        native_out = conn.execute("SELECT COUNT(*) FROM transfers WHERE from_addr = ? AND kind = 'native'",
                                  (EXPLOITER,)).fetchone()[0]
    finally:
        conn.close()
    assert not stored & {tx(0xBAD1), tx(0xBAD2), tx(0xBAD3), "0x12"}
    assert not addresses & {FUTURE_TO, NEGATIVE_TO, BAD_HASH_TO, X, Y}
    assert native_out == 41 and HOP1_CONSOLIDATION in addresses

    rejected = [r for c in captured[1:] for r in c.rejected]
    by_reason = {r.reason: r for r in rejected}
    assert len(rejected) == 5, [r.describe() for r in rejected]
    assert all(r.address == EXPLOITER and r.action == "txlist" for r in rejected)
    assert by_reason["value is negative"].tx_hash == tx(0xBAD1)
    assert by_reason["hash is not a transaction hash: '0x12'"].tx_hash == ""
    assert by_reason["not a JSON object (a string)"].block is None
    (future,) = [r for r in rejected if "outside the blocks asked for" in r.reason]
    assert future.tx_hash == tx(0xBAD2) and future.block == 10**12
    assert by_reason["neither side is the address asked for"].tx_hash == tx(0xBAD3)


def test_the_analyst_is_told_which_records_were_skipped_and_the_run_keeps_them(tmp_path):
    """A warning per bad record on stderr (bounded), the count in --json, the names in the run's row."""
    import json

    from helpers import run_cli

    chain = Chain.from_fixtures()
    chain.injected[("txlist", EXPLOITER)] = hostile_seed_rows(chain)
    db = tmp_path / "case.db"
    with ExplorerServer(chain) as server:
        result = run_cli("trace", EXPLOITER, "--db", db, "--explorer-url", server.url, "--rate", "200", "--json",
                         "--quiet", "--hops", "1")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rejected_records"] == 5
    warnings = result.stderr.splitlines()
    assert warnings[0].startswith("tracer: warning: skipped 5 malformed or out-of-range records")
    assert len(warnings) == 6 and all(EXPLOITER in w and "txlist" in w for w in warnings[1:])
    assert any(tx(0xBAD1) in w and "value is negative" in w for w in warnings)
    conn = sqlite3.connect(db)
    count, detail = conn.execute("SELECT rejected, rejected_detail FROM runs").fetchone()
    conn.close()
    assert count == 5 and {r["tx_hash"] for r in json.loads(detail)} >= {tx(0xBAD1), tx(0xBAD2), tx(0xBAD3)}


_SERVED: dict = {}


def _served_fixture_chain():
    """One local explorer over the real records for every hypothesis example (a server per example is slow)."""
    if not _SERVED:
        chain = Chain.from_fixtures()
        server = ExplorerServer(chain).start()
        clean = ExplorerClient(Endpoint(server.url, None, 1000.0, "t"), rate=1000, page_size=50)
        head = chain.head
        _SERVED.update(chain=chain, server=server, head=head,
                       clean={a: clean.fetch_range(a, EXPLOITER, 0, head) for a in ("txlist", "tokentx")})
        clean.close()
    return _SERVED


def _mangled_row(template: dict):
    field_values = st.one_of(junk, st.just("-1"), st.just("0x12"), st.just(str(2**256)), st.just(""),
                             st.just(str(10**12)), st.just(X))
    return st.one_of(junk, st.builds(lambda f, v: {**template, f: v}, st.sampled_from(sorted(template)), field_values))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_malformed_records_through_the_explorer_path_never_stop_it(data):
    """Junk mixed into a real address's answers, paged over HTTP by the real client (pages of 50):
    the fetch goes on, returns exactly the clean transfers, and names every junk row it did not drop."""
    served = _served_fixture_chain()
    action = data.draw(st.sampled_from(["txlist", "tokentx"]))
    template = next(r for r in served["chain"].records[action] if r["from"].lower() == EXPLOITER)
    junk_rows = data.draw(st.lists(_mangled_row(template), min_size=1, max_size=5))
    served["chain"].injected[(action, EXPLOITER)] = junk_rows
    served["chain"]._index.clear()
    client = ExplorerClient(Endpoint(served["server"].url, None, 1000.0, "t"), rate=1000, page_size=50)
    try:
        got = client.fetch_range(action, EXPLOITER, 0, served["head"])
    except MalformedResponseError:
        # only a page made wholly of unusable rows may be refused as a malformed answer, never a raise otherwise
        assert len(junk_rows) >= 50
        return
    finally:
        served["chain"].injected.clear()
        client.close()
    clean_keys = {t.key for t in served["clean"][action]}
    assert clean_keys <= {t.key for t in got}  # nothing real was lost
    extra = [t for t in got if t.key not in clean_keys]  # a mangled copy that is still a valid, relevant row
    assert all(t.from_addr == EXPLOITER or t.to_addr == EXPLOITER for t in extra)
    assert all(0 <= t.block <= served["head"] and 0 <= t.amount < 2**256 for t in got)
    assert len(client.rejected) <= len(junk_rows) * 2  # the probe and a continuation may each see a row


# ---- the node source: the same skip-and-record for logs, traces and scanned transactions ----------

class FakeRpc:
    """Just enough of JsonRpcClient: canned eth_getLogs / trace_filter / block answers."""

    display = "fake-node"
    batch_size = 100

    def __init__(self, logs=(), traces=(), blocks=None):
        from tracer.sources.jsonrpc import RpcStats

        self.logs, self.traces, self.blocks = list(logs), list(traces), blocks or {}
        self.stats = RpcStats()

    def call(self, method, params):
        if method == "eth_chainId":
            return "0x1"
        if method == "eth_blockNumber":
            return hex(END)
        if method == "eth_getLogs":
            return self.logs
        if method == "trace_filter":
            return [] if params[0].get("count") == 1 else self.traces
        raise AssertionError(method)

    def batch(self, calls):
        out = []
        for method, params in calls:
            if method == "eth_getBlockByNumber":
                n = int(params[0], 16)
                out.append(self.blocks.get(n, {"timestamp": hex(1_700_000_000 + n), "transactions": []}))
            elif method == "eth_getTransactionReceipt":
                out.append({"status": "0x1"})
            else:
                out.append("0x")
        return out


def topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def log(n: int, **extra) -> dict:
    entry = {"address": TOKEN, "topics": [TRANSFER, topic(A), topic(B)], "data": "0x" + f"{n + 1:064x}",
             "blockNumber": hex(150), "transactionHash": tx(n), "logIndex": hex(n), "removed": False}
    entry.update(extra)
    return entry


def trace_call(n: int, **extra) -> dict:
    entry = {"type": "call", "action": {"callType": "call", "from": A, "to": B, "value": hex(10**18 + n),
                                        "input": "0x"},
             "blockNumber": 150, "transactionHash": tx(n), "traceAddress": [], "result": {}}
    entry.update(extra)
    return entry


def node_source(rpc):
    from tracer.sources.node import NodeSource

    return NodeSource(rpc, chunk_size=10)


def fetch_all(source, action):
    from tracer.sources.base import FetchTask

    return [t for _, ts in source.fetch([FetchTask(A, action, START, END)]) for t in ts]


def test_node_logs_skip_and_record_bad_entries():
    from tracer.sources.node import LOGS

    logs = [log(1), "oops", log(2, transactionHash="0x12"), log(3, blockNumber="0xzz"),
            log(4, topics=[TRANSFER, "0x" + "f" * 64, topic(B)]), log(5, data="0xnothex"),
            log(6, blockNumber=hex(10**9)), log(7, topics=[TRANSFER, topic(X), topic(Y)]), log(8)]
    source = node_source(FakeRpc(logs=logs))
    transfers = fetch_all(source, LOGS)
    assert sorted(t.tx_hash for t in transfers) == [tx(1), tx(8)]
    reasons = [r.reason for r in source.rejected]
    assert len(reasons) == 7, reasons  # each once, though both the from and the to query returned it
    assert any("outside the blocks asked for" in r for r in reasons)
    assert any("neither side" in r for r in reasons)
    assert all(r.action == LOGS and r.reason.isprintable() for r in source.rejected)


def test_node_traces_skip_and_record_bad_entries():
    from tracer.sources.node import TRACES

    traces = [trace_call(1), 7, trace_call(2, transactionHash="nope"), trace_call(3, blockNumber="0xq"),
              trace_call(4, action={"callType": "call", "from": A, "to": "0x12", "value": "0x5"}),
              trace_call(5, action={"callType": "call", "from": A, "to": B, "value": hex(2**256)}),
              trace_call(6, blockNumber=10**9), trace_call(7, action={"callType": "call", "from": X, "to": Y,
                                                                      "value": "0x5"}),
              trace_call(8, traceAddress="bad"), trace_call(9)]
    source = node_source(FakeRpc(traces=traces))
    transfers = fetch_all(source, TRACES)
    assert sorted(t.tx_hash for t in transfers) == [tx(1), tx(9)]
    assert len(source.rejected) == 8, [r.describe() for r in source.rejected]
    assert {r.action for r in source.rejected} == {TRACES}


def test_node_block_scan_skips_our_bad_transactions_and_ignores_strangers():
    from tracer.sources.node import BLOCKS

    txs = [{"hash": tx(1), "from": A, "to": B, "value": "0x10", "input": "0x"},
           {"hash": "0x1", "from": A, "to": B, "value": "0x10"},
           {"hash": tx(3), "from": A, "to": B, "value": "0xnope"},
           {"hash": "garbage", "from": X, "to": Y, "value": "garbage"},  # not ours: not a record of ours
           "not a transaction"]
    rpc = FakeRpc(blocks={150: {"timestamp": hex(1_700_000_000), "transactions": txs}})
    source = node_source(rpc)
    source._use_traces = False
    transfers = fetch_all(source, BLOCKS)
    assert [t.tx_hash for t in transfers] == [tx(1)]
    assert sorted(r.reason.split(":")[0] for r in source.rejected) == [
        "a malformed transaction hash", "a malformed value"]


# ---- every source answers .rejected ----------------------------------------------------------------

def test_wrappers_gather_the_rejects_of_what_they_wrap():
    from tracer.sources.base import FetchTask
    from tracer.sources.multichain import MultiChainSource
    from tracer.sources.select import SourceSettings, make_source

    home = ScriptedExplorer([native(1)], ["oops"])
    foreign = ScriptedExplorer([native(2)], [native(3, value="-1")])
    multi = MultiChainSource(home, lambda chain_id: foreign)
    assert multi.rejected == []
    tasks = [FetchTask(A, "txlist", START, END), FetchTask(f"base:{A}", "txlist", START, END)]
    found = {task.address: ts for task, ts in multi.fetch(tasks)}
    assert [t.tx_hash for t in found[A]] == [tx(1)] and [t.tx_hash for t in found[f"base:{A}"]] == [tx(2)]
    assert [(r.address, r.reason) for r in multi.rejected] == [
        (A, "not a JSON object (a string)"), (f"base:{A}", "value is negative")]

    settings_ = SourceSettings(mode="auto", rpc_url="http://127.0.0.1:9", explorer_url="http://127.0.0.1:9/api")
    combined = make_source(settings_, warn=lambda msg: None)
    assert combined.rejected == []
    combined.explorer.rejected.append(RejectedRecord(A, "txlist", "", None, "x"))
    combined.node.rejected.append(RejectedRecord(B, "rpc-logs", "", None, "y"))
    assert [r.reason for r in combined.rejected] == ["y", "x"]
    for mode in ("rpc", "explorer"):
        assert make_source(SourceSettings(mode=mode, rpc_url="http://127.0.0.1:9"), lambda m: None).rejected == []
