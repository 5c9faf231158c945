import pytest

from tracer.sources.jsonrpc import RpcError, is_range_limit, max_span, redact_url, suggested_range


@pytest.mark.parametrize("message,code", [
    ("query returned more than 10000 results", -32005),
    ("Log response size exceeded. this block range should work: [0x10, 0x20]", -32602),
    ("block range too large", -32000),
    ("exceed maximum block range: 5000", -32000),
    ("query exceeds max block range 100000", -32000),
    ("query exceeds max results 20000, retry with the range 1-2", -32000),
    ("eth_getLogs is limited to a 10,000 range", -32000),
    ("batch too large", -32000),
    ("block range too large, currently limited to 300", -32602),
])
def test_provider_limit_messages_are_recognised(message, code):
    assert is_range_limit(RpcError(code, message))


def test_not_every_error_is_a_range_limit():
    assert not is_range_limit(RpcError(-32601, "Method not found"))
    assert not is_range_limit(RpcError(-32000, "execution reverted"))


def test_suggested_ranges():
    assert suggested_range(RpcError(-32005, "query returned more than 10000 results",
                                    {"from": "0x10", "to": "0x1f"})) == (16, 31)
    assert suggested_range(RpcError(-32602, "... this block range should work: [0x1b4, 0x2ee]")) == (0x1b4, 0x2ee)
    assert suggested_range(RpcError(-32000, "block range too large")) is None


def test_named_spans():
    assert max_span(RpcError(-32602, "block range too large, currently limited to 300")) == 300
    assert max_span(RpcError(-32000, "exceed maximum block range: 5000")) == 5000
    assert max_span(RpcError(-32000, "eth_getLogs is limited to a 10,000 range")) == 10_000
    assert max_span(RpcError(-32000, "query exceeds max results 20000")) is None  # results, not blocks


def test_urls_are_redacted_of_keys_and_credentials():
    assert redact_url("https://mainnet.infura.io/v3/0123456789abcdef") == "https://mainnet.infura.io"
    assert redact_url("https://user:pass@node.example:8545/key/abc?apikey=x") == "https://node.example:8545"
