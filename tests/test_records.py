import copy

import pytest

from tracer.models import ERC20, ZERO_VALUE
from tracer.records import RejectedRecord, parse_rows

TX = "0x4159e391f8c980d5bcecce9f06de4d9850a396ad1874dd03fa4d4816c811b8d4"
A = "0x47666fab8bd0ac7003bce3f5c3585383f09486e2"
B = "0x9a99359a788044412892e81f5a7391c236bc6a7b"
C = "0x4e6f48362463a24ab31dc7d4aebcc435aa2d916a"
TOKEN = "0x2a120e7f2f1d8ffd173ed17aa5089f11206b5177"


def row(to, value, tx=TX, block="21895400", **extra):
    r = {"blockNumber": block, "timeStamp": "1740148487", "hash": tx, "from": A, "to": to, "value": value,
         "contractAddress": TOKEN, "tokenSymbol": "ЕТН...", "tokenDecimal": "18"}
    r.update(extra)
    return r


def test_identical_rows_in_one_transaction_are_distinct_transfers():
    rows = [row(B, "5"), row(B, "5"), row(C, "7")]
    transfers = parse_rows("tokentx", rows)
    keys = [t.key for t in transfers]
    assert len(set(keys)) == 3
    assert keys[0].endswith(".0") and keys[1].endswith(".1")
    assert all(k.startswith(f"{TX}:{ERC20}:") for k in keys)


def test_positions_do_not_depend_on_which_history_the_rows_came_from():
    """The sender's history shows all rows; the recipient's only its own: same identities."""
    sender_view = parse_rows("tokentx", [row(C, "7"), row(B, "5"), row(B, "5")])
    recipient_view = parse_rows("tokentx", [row(B, "5"), row(B, "5")])
    assert {t.key for t in recipient_view} <= {t.key for t in sender_view}
    assert parse_rows("tokentx", [row(B, "5"), row(B, "5")]) == recipient_view  # deterministic


def test_fixture_duplicate_rows_keep_both_transfers(fixture_chain):
    rows = [r for r in fixture_chain.records["tokentx"] if r["hash"] == TX]
    transfers = parse_rows("tokentx", rows)
    assert len(transfers) == len(rows) == len({t.key for t in transfers})


def test_zero_value_token_transfers_are_kept_and_flagged_but_zero_native_calls_dropped():
    t = parse_rows("tokentx", [row(B, "0")])
    assert ZERO_VALUE in t[0].flags
    native = {"blockNumber": "1", "timeStamp": "1", "hash": TX, "from": A, "to": B, "value": "0", "isError": "0"}
    assert parse_rows("txlist", [native]) == []


def test_failed_transactions_move_nothing():
    native = {"blockNumber": "1", "timeStamp": "1", "hash": TX, "from": A, "to": B, "value": "10", "isError": "1"}
    assert parse_rows("txlist", [native]) == []


def test_amounts_are_exact_integers():
    big = "401346768858834570000000"
    native = {"blockNumber": "1", "timeStamp": "1", "hash": TX, "from": A, "to": B, "value": big, "isError": "0"}
    (t,) = parse_rows("txlist", [native])
    assert t.amount == int(big) and isinstance(t.amount, int)


@pytest.mark.parametrize("field,value,reason", [
    ("hash", "0x12", "hash is not a transaction hash"),
    ("from", "not-an-address", "from is not an address"),
    ("value", "1.5", "value is not a decimal integer"),
    ("value", "-3", "value is negative"),
    ("blockNumber", "abc", "blockNumber is not a decimal integer"),
    ("value", None, "missing value"),
])
def test_a_malformed_row_is_skipped_and_rejected_the_rest_kept(field, value, reason):
    bad = copy.deepcopy(row(B, "5"))
    bad[field] = value
    rejected: list[RejectedRecord] = []
    transfers = parse_rows("tokentx", [row(B, "5"), bad, row(C, "7")], A, 0, 99_999_999, rejected=rejected)
    assert [(t.to_addr, t.amount) for t in transfers] == [(B, 5), (C, 7)]
    (r,) = rejected
    assert r.address == A and r.action == "tokentx" and reason in r.reason
    assert r.tx_hash == ("" if field == "hash" else TX)
    assert r.block == (None if field == "blockNumber" else 21895400)


def test_a_non_record_in_the_result_is_rejected_alone():
    native = {"blockNumber": "1", "timeStamp": "1", "hash": TX, "from": A, "to": B, "value": "10", "isError": "0"}
    rejected: list[RejectedRecord] = []
    (t,) = parse_rows("txlist", ["oops", native], A, 0, 10, rejected=rejected)
    assert t.amount == 10
    assert rejected == [RejectedRecord(A, "txlist", "", None, "not a JSON object (a string)")]
