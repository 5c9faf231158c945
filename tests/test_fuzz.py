"""Property tests: hostile input gives a value or a clean, typed rejection, never a crash."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.errors import MalformedResponseError
from tracer.exits import THORCHAIN_DEPOSIT, TORNADO_DEPOSIT, decode_receipt
from tracer.records import parse_rows
from tracer.sources.node import _value_moved, key_of
from tracer.thorchain import MemoError, parse_memo

hexish = st.text(alphabet="0123456789abcdefABCDEFx", max_size=70)
junk = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30), hexish,
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
FIELDS = ["blockNumber", "timeStamp", "hash", "from", "to", "value", "isError", "contractAddress", "tokenSymbol",
          "tokenDecimal", "input", "logIndex", "txreceipt_status"]
record = st.dictionaries(st.sampled_from(FIELDS), junk, max_size=len(FIELDS))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["txlist", "txlistinternal", "tokentx"]), st.lists(st.one_of(record, junk), max_size=4))
def test_explorer_records(action, rows):
    """A hostile row is skipped and listed, never raised: the rest of the answer is kept (issue 11, C7)."""
    rejected = []
    transfers = parse_rows(action, rows, rejected=rejected)
    assert len(transfers) + len(rejected) <= len(rows)
    for t in transfers:
        assert isinstance(t.amount, int) and 0 <= t.amount < 2**256 and len(t.tx_hash) == 66
    for r in rejected:
        assert r.action == action and r.reason.isprintable() and len(r.reason) <= 120


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120))
def test_memos(text):
    try:
        memo = parse_memo(text)
    except MemoError:
        return
    assert memo.raw and memo.action


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="=:/.-~bBeE0123456789xX", max_size=60))
def test_memo_shaped_text(text):
    try:
        parse_memo(text)
    except MemoError:
        pass


log = st.fixed_dictionaries({
    "address": st.sampled_from(["0xd37bbe5744d730a1d98d8dc97c42f0ca46ad7146",
                                "0xa160cdab225685da1d56aa342ad8841c3b53f291", "0x" + "11" * 20]),
    "topics": st.lists(st.one_of(st.sampled_from([THORCHAIN_DEPOSIT, TORNADO_DEPOSIT]), hexish), max_size=4),
    "data": st.one_of(hexish, st.binary(max_size=200).map(lambda b: "0x" + b.hex())),
    "logIndex": st.one_of(hexish, st.integers(min_value=0, max_value=10)),
})


@settings(max_examples=300, deadline=None)
@given(st.lists(log, max_size=5), junk)
def test_receipts(logs, sender):
    exits, bad = decode_receipt({"transactionHash": "0x" + "ab" * 32, "from": sender, "logs": logs}, 1, 2)
    assert bad >= 0 and all(e.amount >= 0 for e in exits)


trace = st.fixed_dictionaries({
    "type": st.one_of(st.sampled_from(["call", "create", "suicide", "reward"]), junk),
    "action": st.one_of(st.dictionaries(st.sampled_from(["from", "to", "value", "callType", "balance", "address",
                                                         "refundAddress", "input"]), junk, max_size=6), junk),
    "result": st.one_of(st.none(), st.dictionaries(st.just("address"), junk), junk),
})


@settings(max_examples=300, deadline=None)
@given(trace)
def test_node_traces(tr):
    try:
        moved = _value_moved(tr)
    except MalformedResponseError:
        return
    assert moved is None or moved[2] > 0


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["transactionHash", "logIndex"]), junk))
def test_node_log_keys(entry):
    try:
        tx_hash, index = key_of(entry)
    except MalformedResponseError:
        return
    assert len(tx_hash) == 66 and isinstance(index, int)
