"""The explorer client against a real local HTTP server speaking the Etherscan shape."""

import pytest

from conftest import EXPLOITER
from explorer_server import Chain, ExplorerServer
from tracer.errors import MalformedResponseError, QuotaError, RateLimitError, SourceError
from tracer.sources.explorer import WINDOW, Endpoint, ExplorerClient, choose_endpoint


def client(server, **kw) -> ExplorerClient:
    kw.setdefault("rate", 200)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("throttle_pause", 0.05)
    kw.setdefault("timeout", 2)
    return ExplorerClient(Endpoint(server.url, 1, 5.0, "local"), api_key=kw.pop("api_key", None), **kw)


def test_endpoint_defaults():
    assert choose_endpoint("KEY", None).url == "https://api.etherscan.io/v2/api"
    assert choose_endpoint("KEY", None).chain_id == 1 and choose_endpoint("KEY", None).default_rate == 3
    assert choose_endpoint(None, None).url == "https://eth.blockscout.com/api"
    assert choose_endpoint(None, None).default_rate == 5
    assert choose_endpoint(None, "http://127.0.0.1:9/api").url == "http://127.0.0.1:9/api"


def test_small_pages_by_block_cursor_give_the_same_transfers_as_one_page(explorer):
    whole = client(explorer).fetch_range("tokentx", EXPLOITER, 0, 99_999_999)
    paged_client = client(explorer, page_size=7)
    paged = paged_client.fetch_range("tokentx", EXPLOITER, 0, 99_999_999)
    assert [t.key for t in paged] == [t.key for t in whole]
    assert len(whole) == 208
    calls = [q for q in explorer.log if q.get("offset") == "7"]
    assert len(calls) > 208 // 7
    for q in calls:
        assert q["sort"] == "asc" and "startblock" in q and "endblock" in q
        assert int(q["page"]) * int(q["offset"]) <= WINDOW
    starts = [int(q["startblock"]) for q in calls]
    assert starts == sorted(starts)  # the block cursor only moves forward


def test_a_block_fuller_than_a_page_is_walked_by_page_number(explorer):
    rows = [r for r in explorer.chain.records["tokentx"] if r["hash"].startswith("0x4159e391")]
    assert len(rows) > 3 and len({r["blockNumber"] for r in rows}) == 1
    block = int(rows[0]["blockNumber"])
    got = client(explorer, page_size=3).fetch_range("tokentx", EXPLOITER, block, block)
    assert len(got) == len(rows)


def test_hostile_rows_are_skipped_and_listed_while_paging(explorer):
    """Issue 11: bad rows in an answer cost only themselves, whatever page they land on."""
    clean = client(explorer, page_size=7).fetch_range("tokentx", EXPLOITER, 0, 99_999_999)
    row = dict(explorer.chain.records["tokentx"][0])
    explorer.chain.injected[("tokentx", EXPLOITER)] = [
        "oops", {**row, "blockNumber": "x"}, {**row, "blockNumber": "999999999999"}, {**row, "value": "-1"},
    ]
    c = client(explorer, page_size=7)
    got = c.fetch_range("tokentx", EXPLOITER, 0, 99_999_999)
    assert [t.key for t in got] == [t.key for t in clean]
    assert sorted(r.reason.split(":")[0] for r in c.rejected) == [
        "block 999999999999 is outside the blocks asked for (0..99999999)", "blockNumber is not a decimal integer",
        "not a JSON object (a string)", "value is negative"]


def test_no_transactions_found_is_an_empty_result(explorer):
    assert client(explorer).fetch_range("txlistinternal", EXPLOITER, 0, 99_999_999) == []


def test_head_block_and_code(explorer):
    c = client(explorer)
    assert c.head_block() == explorer.chain.head
    assert c.get_code("0x6bb000067005450704003100632eb93ea00c0000") != "0x"
    assert c.get_code(EXPLOITER) == "0x"


def test_api_key_and_chain_id_are_sent(explorer):
    c = client(explorer, api_key="SECRET123")
    c.head_block()  # an unknown host: its dialect is asked without the key (it may be a Blockscout)
    assert "apikey" not in explorer.log[0]
    c.fetch_range("txlist", EXPLOITER, 0, 10)  # Etherscan-like: the key goes with every call from now on
    assert explorer.log[-1]["apikey"] == "SECRET123" and explorer.log[-1]["chainid"] == "1"


@pytest.mark.parametrize("fault", ["html", "truncated", "500", "429", "ratelimit", "stall"])
def test_transient_faults_are_retried_and_recovered(explorer, fault):
    explorer.faults.extend([fault, fault])
    c = client(explorer, timeout=0.5)
    transfers = c.fetch_range("txlist", EXPLOITER, 0, 99_999_999)
    assert len(transfers) == 41  # 40 x 10,000 ETH and 1 ETH; zero-value calls are not transfers
    assert c.stats.requests == 3


@pytest.mark.parametrize("fault,error,text", [
    ("invalid-key", QuotaError, "Invalid API Key"),
    ("daily", QuotaError, "daily"),
    ("unknown-status0", SourceError, "Something odd happened"),
    ("dict-result", MalformedResponseError, "expected a list"),
    ("list-body", MalformedResponseError, "not an object"),
])
def test_final_errors_stop_at_once_with_a_clear_message(explorer, fault, error, text):
    explorer.faults.append(fault)
    c = client(explorer, api_key="SECRET123")
    with pytest.raises(error, match=text) as exc:
        c.fetch_range("txlist", EXPLOITER, 0, 99_999_999)
    assert "SECRET123" not in str(exc.value)
    assert c.stats.requests == 1


def test_endless_failure_is_a_clear_error_after_bounded_retries(explorer):
    explorer.faults.extend(["500"] * 10)
    c = client(explorer, retries=3)
    with pytest.raises(SourceError, match="failed 4 times in a row: HTTP 500"):
        c.head_block()
    assert c.stats.requests == 4


def test_endless_rate_limiting_is_a_clear_error(explorer):
    explorer.faults.extend(["ratelimit"] * 10)
    c = client(explorer, rate_limit_retries=2)
    with pytest.raises(RateLimitError, match="rate limit"):
        c.fetch_range("txlist", EXPLOITER, 0, 99_999_999)


def test_unreachable_explorer_is_a_clear_error():
    c = ExplorerClient(Endpoint("http://127.0.0.1:9/api", 1, 5.0, "local"), rate=100, retries=1, backoff=0.01)
    with pytest.raises(SourceError, match="cannot connect"):
        c.head_block()


def test_server_side_rate_limit_is_respected_without_errors():
    chain = Chain(head=10)
    with ExplorerServer(chain, rate_limit=5) as server:
        c = client(server, rate=20, throttle_pause=0.5)
        for _ in range(12):
            assert c.head_block() == 10
        assert c.stats.rate_limited >= 1  # it met the limit, slowed down, and every call succeeded
