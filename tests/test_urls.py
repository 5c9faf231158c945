"""Empty or malformed source URLs (issue 11, D12): one-line errors, exit 2, before any request.

`--explorer-url ""` is what an unset shell variable gives; falling back to the
public default explorer would send the case's addresses to a third party.
"""

from __future__ import annotations

import hashlib

import pytest
import requests

from helpers import run_cli
from tracer.errors import InputError
from tracer.sources.explorer import choose_endpoint
from tracer.sources.jsonrpc import JsonRpcClient
from tracer.sources.select import SourceSettings, make_source
from tracer.sources.urls import validate_url
from tracer.store import Store

SEED = "0x47666Fab8bd0Ac7003bce3f5C3585383F09486E2"
BAD_URLS = ["", "   ", "http://[::1", "http://host:99999", "http://:80/", "ftp://x", "http://host:0/",
            "http://host:port/", "example.com/api", "http://exa mple.com/", "http://a..b/", "http://999.1.1.1/",
            "http://[zz]/", "http://host/\n"]


@pytest.fixture
def no_requests(monkeypatch):
    """Every HTTP request any client tries (requests, and web3 through it), refused and listed."""
    sent = []

    def refuse(self, request, *args, **kwargs):
        sent.append(request.url)
        raise requests.ConnectionError("no network in this test")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    return sent


def one_line_error(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracer: error: "), result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.output
    return lines[0]


@pytest.mark.parametrize("option", ["--explorer-url", "--rpc-url"])
@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_url_is_a_one_line_error_before_any_request(tmp_path, no_requests, option, url):
    db = tmp_path / "case.db"
    line = one_line_error(run_cli("trace", SEED, "--db", db, option, url, "--quiet"))
    assert option in line
    assert no_requests == []
    assert not db.exists()  # no store created either


@pytest.mark.parametrize("option,variable", [("--explorer-url", "TRACER_EXPLORER_URL"),
                                             ("--rpc-url", "TRACER_RPC_URL")])
def test_an_empty_environment_variable_is_the_same_error_as_the_empty_option(tmp_path, no_requests, option,
                                                                            variable):
    db = tmp_path / "case.db"
    line = one_line_error(run_cli("trace", SEED, "--db", db, "--quiet", env={variable: ""}))
    assert option in line and "empty" in line
    assert no_requests == [] and not db.exists()


def test_an_existing_store_is_untouched(tmp_path, no_requests):
    db = tmp_path / "case.db"
    Store.open(db).close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    one_line_error(run_cli("trace", SEED, "--db", db, "--explorer-url", "", "--quiet"))
    one_line_error(run_cli("trace", SEED, "--db", db, "--explorer-url", "http://[::1", "--follow-bridges"))
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert no_requests == []


def test_the_message_never_shows_a_urls_key_or_credentials(tmp_path, no_requests):
    url = "https://user:SECRETPASS@mainnet.example.io:99999/v3/SECRETKEY?apikey=SECRETQ"
    line = one_line_error(run_cli("trace", SEED, "--db", tmp_path / "c.db", "--rpc-url", url))
    assert "SECRET" not in line and "port" in line


def test_an_empty_url_falls_back_to_nothing():
    with pytest.raises(InputError, match="empty"):
        choose_endpoint(None, "")
    with pytest.raises(InputError, match="empty"):
        choose_endpoint("KEY", "", 10)
    for settings in (SourceSettings(explorer_url=""), SourceSettings(rpc_url=""),
                     SourceSettings(mode="rpc", rpc_url=""), SourceSettings(mode="explorer", explorer_url="")):
        with pytest.raises(InputError, match="empty"):
            make_source(settings, warn=print)
    with pytest.raises(InputError, match="port"):
        JsonRpcClient("http://127.0.0.1:70000")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8545", "https://api.etherscan.io/v2/api", "http://[::1]:8545/",
                                 "https://user:pass@node.example.com/v3/KEY", "http://localhost/api",
                                 "http://my_node.internal:8080/", "https://bücher.example/api", "HTTP://Example.COM/x"])
def test_good_urls_pass(url):
    assert validate_url(url, "--rpc-url") == url


def test_unset_options_still_mean_the_default(no_requests):
    assert choose_endpoint(None, None).name == "blockscout"
    assert choose_endpoint("KEY", None).name == "etherscan"
