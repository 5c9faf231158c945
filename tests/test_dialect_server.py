"""The test server speaks each explorer dialect exactly as /work/shared/notes/explorer-dialects.md says.

Plain `requests` calls against tests/explorer_server.py, asserting the bodies, HTTP codes and headers the
note documents (Part 1: Blockscout per instance and PRO; Part 2: Etherscan V2). The client's tests rely on
this server; these tests keep the server from drifting from the note. Each docstring names its section.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import requests

from explorer_server import BS_RATE, Chain, ExplorerServer

A = "0x" + "aa" * 20  # sender
B = "0x" + "bb" * 20  # receiver
C = "0x" + "cc" * 20  # a contract
TOKEN = "0x" + "dd" * 20
TOKEN2 = "0x" + "ee" * 20  # its metadata not fetched yet (Blockscout)
BIG = "0x" + "12" * 20  # 10,050 transactions
STRANGER = "0x" + "99" * 20  # never seen
TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
H = ["0x" + f"{i:064x}" for i in range(1, 10)]
T0 = 1_700_000_000


def stamp(block: int) -> int:
    return T0 + 12 * (block - 100)


def pad(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def txrow(block, tx_hash, frm, to, value, **kw):
    row = {"blockNumber": str(block), "timeStamp": str(stamp(block)), "hash": tx_hash, "nonce": "0",
           "blockHash": "0x" + "ab" * 32, "transactionIndex": "0", "from": frm, "to": to, "value": str(value),
           "gas": "21000", "gasPrice": "1000000000", "isError": "0", "txreceipt_status": "1", "input": "0x",
           "contractAddress": "", "cumulativeGasUsed": "21000", "gasUsed": "21000", "confirmations": "1",
           "methodId": "0x", "functionName": ""}
    return {**row, **kw}


def make_chain() -> Chain:
    chain = Chain(head=120)
    chain.records["txlist"] = [
        txrow(100, H[0], A, B, 10**18),
        txrow(101, H[1], A, TOKEN, 0, input="0xa9059cbb" + "00" * 64, methodId="0xa9059cbb",
              functionName="transfer(address _to, uint256 _value)"),
        txrow(102, H[2], A, C, 3 * 10**18),
    ]
    chain.records["txlistinternal"] = [
        {"blockNumber": "102", "timeStamp": str(stamp(102)), "hash": H[2], "from": C, "to": B, "value": "5",
         "contractAddress": "", "input": "", "type": "call", "gas": "2300", "gasUsed": "0", "traceId": "0_1",
         "isError": "0", "errCode": ""},
        {"blockNumber": "102", "timeStamp": str(stamp(102)), "hash": H[2], "from": C, "to": A, "value": "0",
         "contractAddress": "", "input": "", "type": "call", "gas": "2300", "gasUsed": "0", "traceId": "0_2",
         "isError": "0", "errCode": ""},
        {"blockNumber": "110", "timeStamp": str(stamp(110)), "hash": H[3], "from": C, "to": B, "value": "7",
         "contractAddress": "", "input": "", "type": "call", "gas": "2300", "gasUsed": "0", "traceId": "0",
         "isError": "0", "errCode": ""},
    ]
    token_common = {"nonce": "1", "blockHash": "0x" + "ab" * 32, "transactionIndex": "0", "gas": "60000",
                    "gasPrice": "1000000000", "gasUsed": "50000", "cumulativeGasUsed": "50000",
                    "input": "deprecated", "confirmations": "1", "methodId": "0xa9059cbb", "functionName": ""}
    chain.records["tokentx"] = [
        {**token_common, "blockNumber": "101", "timeStamp": str(stamp(101)), "hash": H[1], "from": A, "to": B,
         "value": "250", "contractAddress": TOKEN, "tokenName": "Tether USD", "tokenSymbol": "USDT",
         "tokenDecimal": "6"},
        {**token_common, "blockNumber": "103", "timeStamp": str(stamp(103)), "hash": H[4], "from": A, "to": B,
         "value": "9", "contractAddress": TOKEN2, "tokenName": "Other", "tokenSymbol": "OTH", "tokenDecimal": "18"},
    ]
    chain.code[C] = "0x6080604052"
    chain.timestamps = {b: stamp(b) for b in range(100, 121)}
    log = {"address": TOKEN, "topics": [TRANSFER, pad(A), pad(B)], "data": "0x" + f"{250:064x}",
           "blockNumber": hex(101), "blockHash": "0x" + "ab" * 32, "logIndex": "0x0", "transactionIndex": "0x0",
           "transactionHash": H[1], "removed": False}
    chain.receipts[H[1]] = {"transactionHash": H[1], "blockNumber": hex(101), "blockHash": "0x" + "ab" * 32,
                            "transactionIndex": "0x0", "gasUsed": "0xc350", "status": "0x1", "logs": [log]}
    chain.transactions[H[1]] = {"hash": H[1], "blockNumber": hex(101), "gasPrice": "0x3b9aca00", "from": A,
                                "to": TOKEN, "value": "0x0", "accessList": [{"address": TOKEN, "storageKeys": []}]}
    return chain


def big_chain() -> Chain:
    """10,050 transactions of BIG and 1,205 logs of TOKEN in block 5: enough to hit every cap."""
    chain = Chain(head=20_000)
    chain.records["txlist"] = [txrow(100 + i, "0x" + f"{i:064x}", BIG, B, 1) for i in range(10_050)]
    logs = [{"address": TOKEN, "topics": [TRANSFER], "data": "0x", "logIndex": hex(i)} for i in range(1205)]
    chain.receipts[H[0]] = {"transactionHash": H[0], "blockNumber": hex(5), "transactionIndex": "0x0",
                            "gasUsed": "0x1", "logs": logs}
    return chain


@pytest.fixture(scope="module")
def big():
    return big_chain()


@contextmanager
def serve(chain=None, **kw):
    with ExplorerServer(chain if chain is not None else make_chain(), **kw) as server:
        yield server


def get(server, path="", **params):
    url = server.url if not path else server.base + path
    return requests.get(url, params=params, timeout=5)


def rpc(server, payload, path=None, **kw):
    return requests.post(server.base + path if path else server.rpc_url, json=payload, timeout=5, **kw)


LIST = {"module": "account", "startblock": "0", "endblock": "99999999", "page": "1", "offset": "1000", "sort": "asc"}


# ---- shared -------------------------------------------------------------------------------------------------

def test_url_rpc_url_and_the_old_constructor():
    """Brief: .url is what a user configures (Part 2 §1 /v2/api; Part 1 /api; Part 1 §5 /v2/api); .rpc_url is
    Blockscout's POST /api/eth-rpc or PRO's /1/json-rpc. The old positional options still work."""
    chain = make_chain()
    with ExplorerServer(chain, 0.0, None, {8453: Chain(head=5)}) as es, \
            ExplorerServer(chain, dialect="blockscout") as bs, ExplorerServer(chain, dialect="blockscout-pro") as pro:
        assert es.url == es.base + "/v2/api" and es.rpc_url is None
        assert bs.url == bs.base + "/api" and bs.rpc_url == bs.base + "/api/eth-rpc"
        assert pro.url == pro.base + "/v2/api" and pro.rpc_url == pro.base + "/1/json-rpc"
        for path in ("/v2/api", "/api"):  # V2, and the V1 path as before
            body = get(es, path, module="proxy", action="eth_blockNumber").json()
            assert body == {"jsonrpc": "2.0", "id": 83, "result": hex(120)}
        assert get(es, module="proxy", action="eth_blockNumber", chainid="8453").json()["result"] == hex(5)
        assert es.log[-1] == {"module": "proxy", "action": "eth_blockNumber", "chainid": "8453"}
        assert es.http_requests == 3
    with pytest.raises(ValueError):
        ExplorerServer(chain, dialect="etherscan-v1")


@pytest.mark.parametrize("dialect", ["etherscan", "blockscout", "blockscout-pro"])
def test_query_timeout_in_any_dialect(dialect):
    """Part 2 §3 "Query timeout" and §7.5: status 0, the text in message (sic "occured"), result null."""
    with serve(dialect=dialect, timeout_over_blocks=50, api_key="k") as server:
        extra = {"chain_id": "1", "apikey": "k"} if dialect == "blockscout-pro" else {"apikey": "k"}
        r = get(server, **{**LIST, "action": "txlist", "address": A, "startblock": "0", "endblock": "100", **extra})
        assert r.status_code == 200
        assert r.json() == {"status": "0", "message": "Query Timeout occured. Please select a smaller result dataset",
                            "result": None}
        ok = get(server, **{**LIST, "action": "txlist", "address": A, "startblock": "90", "endblock": "140", **extra})
        assert ok.json()["status"] == "1"


# ---- Etherscan V2 (Part 2) ------------------------------------------------------------------------------------

def test_etherscan_envelope_errors_and_empties():
    """Part 2 §1 (envelope, HTTP 200) and §3 (bad module/action/address, empties, plain-text 404)."""
    with serve() as server:
        assert get(server, module="nope", action="txlist").json() == {
            "status": "0", "message": "NOTOK", "result": "Error! Missing Or invalid Module name"}
        assert get(server, module="account", action="nope").json() == {
            "status": "0", "message": "NOTOK", "result": "Error! Missing Or invalid Action name"}
        assert get(server, **{**LIST, "action": "txlist", "address": "0x12"}).json() == {
            "status": "0", "message": "NOTOK", "result": "Error! Invalid address format"}
        for action in ("txlist", "txlistinternal", "tokentx"):
            r = get(server, **{**LIST, "action": action, "address": STRANGER})
            assert r.status_code == 200
            assert r.json() == {"status": "0", "message": "No transactions found", "result": []}
        r = get(server, module="logs", action="getLogs", address=STRANGER, fromBlock="0", toBlock="200")
        assert r.json() == {"status": "0", "message": "No records found", "result": []}
        r = get(server, module="account", action="txlist", address=A)
        assert r.json()["status"] == "1"
        assert [x["hash"] for x in r.json()["result"]] == H[:3]  # Etherscan rows as stored
        assert r.json()["result"][1]["functionName"].startswith("transfer(")
        nf = get(server, "/v3/api")
        assert nf.status_code == 404 and nf.text == "Page not found"


def test_etherscan_proxy_module():
    """Part 2 §4.9: bare JSON-RPC bodies; eth_blockNumber id 83; eth_getCode "0x" for an EOA; unknown → null."""
    with serve() as server:
        def proxy(action, **kw):
            return get(server, module="proxy", action=action, **kw).json()
        assert proxy("eth_blockNumber") == {"jsonrpc": "2.0", "id": 83, "result": "0x78"}
        assert proxy("eth_getCode", address=A, tag="latest") == {"jsonrpc": "2.0", "id": 1, "result": "0x"}
        assert proxy("eth_getCode", address=C.upper().replace("0X", "0x"), tag="latest")["result"] == "0x6080604052"
        assert proxy("eth_getTransactionReceipt", txhash=H[1])["result"]["status"] == "0x1"
        assert proxy("eth_getTransactionReceipt", txhash=H[8]) == {"jsonrpc": "2.0", "id": 1, "result": None}
        assert proxy("eth_getTransactionByHash", txhash=H[1])["result"]["gasPrice"] == "0x3b9aca00"
        assert proxy("eth_getTransactionByHash", txhash=H[8])["result"] is None


def test_etherscan_getlogs_rows_and_paging(big):
    """Part 2 §4.7: hex numbers, zero as "0x", blockHash present, at most 1,000 a page, page honoured;
    log_zero="0x0" is the alternative Part 1 §7 leaves open."""
    with serve() as server:
        body = get(server, module="logs", action="getLogs", address=TOKEN, topic0=TRANSFER,
                   fromBlock="0", toBlock="200", page="1", offset="1000").json()
        assert body["status"] == "1" and body["message"] == "OK"
        assert body["result"] == [{
            "address": TOKEN, "topics": [TRANSFER, pad(A), pad(B)], "data": "0x" + f"{250:064x}",
            "blockNumber": hex(101), "blockHash": "0x" + "ab" * 32, "timeStamp": hex(stamp(101)),
            "gasPrice": "0x3b9aca00", "gasUsed": "0xc350", "logIndex": "0x", "transactionHash": H[1],
            "transactionIndex": "0x"}]
    with serve(big) as server:
        q = {"module": "logs", "action": "getLogs", "address": TOKEN, "fromBlock": "0", "toBlock": "10"}
        assert len(get(server, **q, page="1", offset="5000").json()["result"]) == 1000  # capped, silently
        page2 = get(server, **q, page="2", offset="1000").json()["result"]
        assert len(page2) == 205 and page2[0]["logIndex"] == hex(1000)
    with serve(log_zero="0x0") as server:
        row = get(server, module="logs", action="getLogs", address=TOKEN, fromBlock="0",
                  toBlock="200").json()["result"][0]
        assert row["logIndex"] == "0x0" and row["transactionIndex"] == "0x0"


def test_etherscan_getblocknobytime():
    """Part 2 §4.8 and §3: the result is a decimal string; no match is "Error! No closest block found"."""
    with serve() as server:
        q = {"module": "block", "action": "getblocknobytime"}
        assert get(server, **q, timestamp=str(stamp(105) + 5), closest="before").json() == {
            "status": "1", "message": "OK", "result": "105"}
        assert get(server, **q, timestamp=str(stamp(105) + 5), closest="after").json()["result"] == "106"
        assert get(server, **q, timestamp=str(stamp(200)), closest="after").json() == {
            "status": "0", "message": "NOTOK", "result": "Error! No closest block found"}


def test_etherscan_paid_window(big):
    """Part 2 §2.2 and §2.4 rules 1-2: page x offset > 10000 is an error (text in message, result null);
    without both page and offset the default window is 10,000 rows."""
    with serve(big) as server:
        q = {"module": "account", "action": "txlist", "address": BIG, "startblock": "0", "endblock": "99999999"}
        err = get(server, **q, page="2", offset="5001")
        assert err.status_code == 200 and err.json() == {
            "status": "0",
            "message": "Result window is too large, PageNo x Offset size must be less than or equal to 10000",
            "result": None}
        assert len(get(server, **q).json()["result"]) == 10_000
        assert len(get(server, **q, page="3").json()["result"]) == 10_000  # page alone is ignored
        assert len(get(server, **q, page="1", offset="10000").json()["result"]) == 10_000
        last = get(server, **q, page="10", offset="1000").json()["result"]
        assert last[0]["hash"] == "0x" + f"{9000:064x}"


def test_etherscan_free_tiers(big):
    """Part 2 §2.3-2.4 (UNCONFIRMED: both free behaviours offered) and §5 (chains without free access)."""
    q = {"module": "account", "action": "txlist", "address": BIG, "startblock": "0", "endblock": "99999999"}
    window = "Result window is too large, PageNo x Offset size must be less than or equal to {}"
    with serve(big, tier="free-clamp") as server:
        rows = get(server, **q, page="2", offset="5000").json()["result"]
        assert len(rows) == 1000 and rows[0]["hash"] == "0x" + f"{1000:064x}"  # rows [1000, 2000)
        assert len(get(server, **q).json()["result"]) == 1000
        assert get(server, **q, page="3", offset="5000").json()["message"] == window.format(10000)
        assert get(server, **q, page="5", offset="1000").json()["status"] == "1"
    with serve(big, tier="free-window") as server:
        assert get(server, **q, page="2", offset="1000").json() == {
            "status": "0", "message": window.format(1000), "result": None}
        assert len(get(server, **q, page="1", offset="1000").json()["result"]) == 1000
        assert len(get(server, **q).json()["result"]) == 1000
    with serve(tier="free-clamp", other_chains={8453: Chain(head=1)}) as server:
        for chain_id in ("56", "8453", "10", "43114"):
            assert get(server, module="proxy", action="eth_blockNumber", chainid=chain_id).json() == {
                "status": "0", "message": "NOTOK", "result": "Free API access is not supported for this chain. Please "
                "upgrade your api plan for full chain coverage. https://etherscan.io/apis"}
        assert get(server, module="proxy", action="eth_blockNumber", chainid="137").json()["result"] == "0x78"
    with serve(other_chains={8453: Chain(head=1)}) as server:  # paid: every chain
        assert get(server, module="proxy", action="eth_blockNumber", chainid="8453").json()["result"] == "0x1"


def test_etherscan_keys_and_daily_limit():
    """Part 2 §3: missing key, invalid key (live variant), daily limit until the day resets; all HTTP 200."""
    with serve(api_key="GOOD", daily_limit=2) as server:
        q = {"module": "proxy", "action": "eth_blockNumber"}
        assert get(server, **q).json() == {"status": "0", "message": "NOTOK", "result": "Missing/Invalid API Key"}
        bad = get(server, **q, apikey="BAD")
        assert bad.status_code == 200
        assert bad.json() == {"status": "0", "message": "NOTOK", "result": "Invalid API Key (#err2)|ETH1"}
        assert get(server, **q, apikey="GOOD").json()["result"] == "0x78"
        assert get(server, **q, apikey="GOOD").json()["result"] == "0x78"
        daily = {"status": "0", "message": "NOTOK",
                 "result": "Max daily rate limit reached. 100000 (100%) of 100000 day/limit"}
        assert get(server, **q, apikey="GOOD").json() == daily
        assert get(server, **{**LIST, "action": "txlist", "address": A, "apikey": "GOOD"}).json() == daily
        server.reset_day()
        assert get(server, **q, apikey="GOOD").json()["result"] == "0x78"


def test_etherscan_rate_limit():
    """Part 2 §3 "Per-second rate limit": HTTP 200 NOTOK "Max calls per sec rate limit reached (3/sec)"."""
    with serve(rate_limit=3) as server:
        answers = [get(server, module="proxy", action="eth_blockNumber") for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        assert [a.json().get("result") for a in answers[:3]] == ["0x78"] * 3
        assert answers[3].json() == {"status": "0", "message": "NOTOK",
                                     "result": "Max calls per sec rate limit reached (3/sec)"}
        assert server.rate_limited == 2


def test_etherscan_unconfirmed_switches():
    """Part 2 §4.5 (over 20 addresses), §4.1 (default sort), §4.4 (tokentx logIndex), §1/§6 (chainid, V1 path):
    each plausible answer is an option."""
    many = ",".join("0x" + f"{i:040x}" for i in range(1, 22))
    with serve() as server:
        assert get(server, module="account", action="balancemulti", address=many).json()["result"] == \
            "Error! Invalid multi address format"
        rows = get(server, module="account", action="balancemulti", address=f"{A},{STRANGER}").json()["result"]
        assert [r["account"] for r in rows] == [A, STRANGER] and set(rows[0]) == {"account", "balance"}
        assert "logIndex" not in get(server, **{**LIST, "action": "tokentx", "address": A}).json()["result"][0]
        assert get(server, module="account", action="txlist", address=A).json()["result"][0]["hash"] == H[0]
    with serve(over_20="first20", etherscan_default_sort="desc", tokentx_log_index=True, require_chainid=True,
               v1_deprecated=True) as server:
        assert len(get(server, module="account", action="balancemulti", address=many,
                       chainid="1").json()["result"]) == 20
        desc = get(server, module="account", action="txlist", address=A, chainid="1").json()["result"]
        assert desc[0]["hash"] == H[2]
        tokens = get(server, **{**LIST, "action": "tokentx", "address": A, "chainid": "1"}).json()["result"]
        assert tokens[0]["logIndex"] == "0"
        assert get(server, module="proxy", action="eth_blockNumber").json()["result"] == (
            "Missing or unsupported chainid parameter (required for v2 api), please see "
            "https://api.etherscan.io/v2/chainlist for the list of supported chainids")
        assert get(server, "/api", module="proxy", action="eth_blockNumber", chainid="1").json() == {
            "status": "0", "message": "NOTOK", "result": "You are using a deprecated V1 endpoint, switch to "
            "Etherscan API V2 using https://docs.etherscan.io/v2-migration"}
    with serve(over_20="address") as server:
        assert get(server, module="account", action="balancemulti", address=many).json()["result"] == \
            "Error! Invalid address format"


# ---- Blockscout per instance (Part 1) -----------------------------------------------------------------------

def test_blockscout_routes_and_module_errors():
    """Part 1 §0.1, §1 (paths, lower-casing) and §3 (the 400/404 bodies)."""
    with serve(dialect="blockscout") as server:
        for path in ("/api", "/api/", "/api/v1"):
            assert get(server, path, **{**LIST, "action": "txlist", "address": A}).json()["status"] == "1"
        nf = get(server, "/api/v2/nothing", module="account", action="txlist")
        assert nf.status_code == 404 and nf.json() == {"message": "Not found", "result": None, "status": "0"}
        for params, message in (({"module": "proxy", "action": "eth_blockNumber"}, "Unknown module"),
                                ({"module": "account", "action": "nope"}, "Unknown action"),
                                ({"module": "block", "action": "eth_blockNumber"}, "Unknown action"),
                                ({"module": "account"}, "Params 'module' and 'action' are required parameters"),
                                ({}, "Params 'module' and 'action' are required parameters")):
            r = get(server, **params)
            assert r.status_code == 400 and r.json() == {"message": message, "result": None, "status": "0"}
        logs = get(server, module="LOGS", action="getLogs", address=TOKEN, fromBlock="0", toBlock="200")
        assert logs.json()["status"] == "1"
        assert get(server, **{**LIST, "module": "Account", "action": "TxList", "address": A}).json()["status"] == "1"


def test_blockscout_eth_block_number_and_eth_rpc():
    """Part 1 §2.1: GET module=block&action=eth_block_number (no status, id 1 or echoed as a string); POST
    /api/eth-rpc: single and batch, at most 5, plain-string errors, arity 2 for eth_getCode."""
    with serve(dialect="blockscout") as server:
        assert get(server, module="block", action="eth_block_number").json() == {
            "jsonrpc": "2.0", "result": "0x78", "id": 1}
        assert get(server, module="block", action="eth_block_number", id="7").json()["id"] == "7"
        before = server.http_requests
        one = rpc(server, {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})
        assert one.status_code == 200 and one.json() == {"jsonrpc": "2.0", "result": "0x78", "id": 1}
        batch = rpc(server, [
            {"jsonrpc": "2.0", "id": 1, "method": "eth_getCode", "params": [C, "latest"]},
            {"jsonrpc": "2.0", "id": 2, "method": "eth_getCode", "params": [A, "latest"]},
            {"jsonrpc": "2.0", "id": 3, "method": "eth_getCode", "params": [C]},
            {"jsonrpc": "2.0", "id": 4, "method": "eth_getTransactionReceipt", "params": [H[8]]},
            {"jsonrpc": "2.0", "id": 5, "method": "eth_getTransactionByHash", "params": ["0x12"]},
        ]).json()
        assert batch == [{"jsonrpc": "2.0", "result": "0x6080604052", "id": 1},
                         {"jsonrpc": "2.0", "result": "0x", "id": 2},
                         {"jsonrpc": "2.0", "error": "Incorrect number of params.", "id": 3},
                         {"jsonrpc": "2.0", "result": None, "id": 4},
                         {"jsonrpc": "2.0", "error": "Transaction hash is invalid", "id": 5}]
        assert server.http_requests == before + 2
        assert server.log[-5:][0] == {"module": "eth-rpc", "action": "eth_getCode", "params": [C, "latest"]}
        assert [e["action"] for e in server.log[-6:]] == ["eth_blockNumber"] + ["eth_getCode"] * 3 + [
            "eth_getTransactionReceipt", "eth_getTransactionByHash"]
        tx = rpc(server, {"jsonrpc": "2.0", "id": 9, "method": "eth_getTransactionByHash", "params": [H[1]]}).json()
        assert tx["result"]["hash"] == H[1] and tx["result"]["accessList"] == []  # always [] (ERPC)
        assert rpc(server, {"jsonrpc": "2.0", "id": 8, "method": "eth_chainIdd", "params": []}).json() == {
            "jsonrpc": "2.0", "error": "Action not found.", "id": 8}
        assert rpc(server, {"jsonrpc": "2.0", "method": "eth_blockNumber", "params": []}).json() == {
            "jsonrpc": "2.0", "error": "id is a required field", "id": 0}
        big = rpc(server, [{"jsonrpc": "2.0", "id": i, "method": "eth_blockNumber", "params": []} for i in range(6)])
        assert big.status_code == 413 and big.json() == {
            "status": "0", "message": "Payload Too Large. Max batch size is 5", "result": None}


def test_blockscout_empty_messages_and_errors():
    """Part 1 §0.2, §0.8, §2.2-2.4 and §3: an empty message per action (status 0, []), errors in message with
    result null over HTTP 200, and HTTP 500 "Something went wrong." when an action raises."""
    with serve(dialect="blockscout") as server:
        for action, message in (("txlist", "No transactions found"),
                                ("txlistinternal", "No internal transactions found"),
                                ("tokentx", "No token transfers found")):
            assert get(server, **{**LIST, "action": action, "address": STRANGER}).json() == {
                "status": "0", "message": message, "result": []}
        assert get(server, module="logs", action="getLogs", address=STRANGER, fromBlock="0", toBlock="9").json() == {
            "status": "0", "message": "No logs found", "result": []}
        for params, message in (({"action": "txlist", "address": "0x12"}, "Invalid address format"),
                                ({"action": "txlist"}, "Query parameter 'address' is required"),
                                ({"action": "tokentx"}, "Query parameter address or contractaddress is required"),
                                ({"action": "tokentx", "contractaddress": "x"}, "Invalid contract address format")):
            r = get(server, module="account", **params)
            assert r.status_code == 200 and r.json() == {"message": message, "result": None, "status": "0"}
        server.faults.append("500")
        r = get(server, **{**LIST, "action": "txlist", "address": A})
        assert r.status_code == 500 and r.json() == {"message": "Something went wrong.", "result": None, "status": "0"}


def test_blockscout_paging_window_and_sort(big):
    """Part 1 §2.2: offset > 10000 silently means 10000; page x offset > 10000 is a window error; sort is desc
    when absent; startblock "latest" is dropped."""
    with serve(big, dialect="blockscout") as server:
        q = {"module": "account", "action": "txlist", "address": BIG, "sort": "asc"}
        assert len(get(server, **q, page="1", offset="20000").json()["result"]) == 10_000
        assert get(server, **q, page="2", offset="6000").json() == {
            "status": "0",
            "message": "Result window is too large, PageNo x Offset size must be less than or equal to 10000",
            "result": None}
        desc = get(server, module="account", action="txlist", address=BIG, offset="2").json()["result"]
        assert [r["blockNumber"] for r in desc] == [str(100 + 10_049), str(100 + 10_048)]
        first = get(server, **q, offset="1", startblock="latest", endblock="4294967296").json()["result"]
        assert first[0]["blockNumber"] == "100"  # both bounds dropped: the whole history


def test_blockscout_rows():
    """Part 1 §0.4, §2.2-2.4 and §3: txlist 19 keys (no functionName, methodId with 0x); txlistinternal with
    transactionHash/index/callType/errCode and no zero values by default; tokentx 21 keys, methodId without
    0x, null metadata where not fetched."""
    with serve(dialect="blockscout", unfetched_metadata={TOKEN2.upper().replace("0X", "0x")}) as server:
        txs = get(server, **{**LIST, "action": "txlist", "address": A}).json()["result"]
        assert list(txs[1]) == ["blockNumber", "timeStamp", "hash", "nonce", "blockHash", "transactionIndex", "from",
                                "to", "value", "gas", "gasPrice", "isError", "txreceipt_status", "input",
                                "contractAddress", "cumulativeGasUsed", "gasUsed", "confirmations", "methodId"]
        assert [t["methodId"] for t in txs] == ["0x", "0xa9059cbb", "0x"]
        internal = get(server, **{**LIST, "action": "txlistinternal", "address": C}).json()["result"]
        assert internal == [{"blockNumber": "102", "timeStamp": str(stamp(102)), "from": C, "to": B, "value": "5",
                             "contractAddress": "", "transactionHash": H[2], "index": "0_1", "input": "0x",
                             "type": "call", "callType": "call", "gas": "2300", "gasUsed": "0", "isError": "0",
                             "errCode": ""},
                            {**internal[1], "transactionHash": H[3], "blockNumber": "110"}]
        with_zero = get(server, **{**LIST, "action": "txlistinternal", "address": C, "include_zero_value": "true"})
        assert len(with_zero.json()["result"]) == 3
        tokens = get(server, **{**LIST, "action": "tokentx", "address": A}).json()["result"]
        assert list(tokens[0]) == ["blockNumber", "timeStamp", "hash", "nonce", "blockHash", "from", "contractAddress",
                                   "to", "value", "tokenName", "tokenSymbol", "tokenDecimal", "transactionIndex", "gas",
                                   "gasPrice", "gasUsed", "cumulativeGasUsed", "input", "confirmations", "methodId",
                                   "functionName"]
        assert (tokens[0]["methodId"], tokens[0]["tokenSymbol"], tokens[0]["tokenDecimal"]) == ("a9059cbb", "USDT", "6")
        assert (tokens[1]["tokenName"], tokens[1]["tokenSymbol"], tokens[1]["tokenDecimal"]) == (None, None, "")
        only = get(server, **{**LIST, "action": "tokentx", "contractaddress": TOKEN}).json()["result"]
        assert [t["hash"] for t in only] == [H[1]]


def test_blockscout_pending_internal_transactions():
    """Part 1 §0.3 and §2.3: status "2" when the range reaches an unprocessed block, with the rows below it."""
    with serve(dialect="blockscout", pending_internal_from=105) as server:
        q = {**LIST, "action": "txlistinternal", "address": C}
        message = "Some internal transactions within this block range have not yet been processed"
        assert get(server, **q).json() == {"status": "2", "message": message,
                                           "result": [get(server, **{**q, "endblock": "104"}).json()["result"][0]]}
        assert get(server, **{**q, "startblock": "106"}).json() == {"status": "2", "message": message, "result": []}
        assert get(server, **{k: v for k, v in q.items() if k != "endblock"}).json()["status"] == "2"
        assert get(server, **{**q, "endblock": "104"}).json()["status"] == "1"
        assert get(server, module="account", action="txlistinternal", txhash=H[3]).json() == {
            "status": "2", "message": "Internal transactions for this transaction have not been processed yet",
            "result": []}


def test_blockscout_getlogs(big):
    """Part 1 §0.5 and §2.5: fromBlock/toBlock required, page/offset ignored, at most 1,000 rows ascending,
    10 keys, lower-case hex with "0x0", 4 topics padded with null, no blockHash."""
    with serve(dialect="blockscout") as server:
        q = {"module": "logs", "action": "getLogs"}
        for params, message in (({"address": TOKEN}, "Required query parameters missing: fromBlock, toBlock"),
                                ({"fromBlock": "0", "toBlock": "9"},
                                 "Required query parameters missing: address and/or topic{x}"),
                                ({"fromBlock": "0x1", "toBlock": "9", "address": TOKEN}, "Invalid fromBlock format"),
                                ({"fromBlock": "earliest", "toBlock": "9", "address": TOKEN},
                                 "Invalid fromBlock format"),
                                ({"fromBlock": "0", "toBlock": "9", "topic0": TRANSFER, "topic1": pad(A)},
                                 "Required query parameters missing: topic0_1_opr")):
            assert get(server, **q, **params).json() == {"message": message, "result": None, "status": "0"}
        row = get(server, **q, address=TOKEN, fromBlock="0", toBlock="latest").json()["result"][0]
        assert row == {"address": TOKEN, "topics": [TRANSFER, pad(A), pad(B), None], "data": "0x" + f"{250:064x}",
                       "blockNumber": "0x65", "timeStamp": hex(stamp(101)), "gasPrice": "0x3b9aca00",
                       "gasUsed": "0xc350", "logIndex": "0x0", "transactionHash": H[1], "transactionIndex": "0x0"}
    with serve(big, dialect="blockscout") as server:
        q = {"module": "logs", "action": "getLogs", "address": TOKEN, "fromBlock": "0", "toBlock": "10"}
        one = get(server, **q, page="1", offset="100").json()["result"]
        two = get(server, **q, page="2", offset="100").json()["result"]
        assert len(one) == 1000 and one == two and one[-1]["logIndex"] == hex(999)


def test_blockscout_getblocknobytime():
    """Part 1 §0.6 and §2.7: the result is {"blockNumber": "N"}; both params required; no block → "Block does not
    exist"; the bare string a source TODO announces is an option."""
    with serve(dialect="blockscout") as server:
        q = {"module": "block", "action": "getblocknobytime"}
        assert get(server, **q, timestamp=str(stamp(105)), closest="after").json() == {
            "status": "1", "message": "OK", "result": {"blockNumber": "105"}}
        assert get(server, **q, closest="after").json()["message"] == "Query parameter 'timestamp' is required"
        assert get(server, **q, timestamp="1", closest="soon").json()["message"] == "Invalid `closest` param"
        assert get(server, **q, timestamp=str(stamp(500)), closest="after").json() == {
            "status": "0", "message": "Block does not exist", "result": None}
    with serve(dialect="blockscout", blockscout_bytime="string") as server:
        assert get(server, module="block", action="getblocknobytime", timestamp=str(stamp(105)),
                   closest="before").json()["result"] == "105"


def test_blockscout_balances():
    """Part 1 §2.6: balancemulti takes the first 20, prepends unknown addresses with "0", may say null;
    tokenbalance is "0" without a row."""
    with serve(dialect="blockscout", null_balances={C}) as server:
        q = {"module": "account", "action": "balancemulti"}
        rows = get(server, **q, address=f"{A},{STRANGER},{C}").json()
        assert rows["status"] == "1"
        assert [(r["account"], r["stale"]) for r in rows["result"]] == [(STRANGER, False), (A, False), (C, False)]
        assert rows["result"][0]["balance"] == "0" and rows["result"][2]["balance"] is None
        assert rows["result"][1]["balance"].isdigit()
        many = ",".join("0x" + f"{i:040x}" for i in range(1, 26))
        assert len(get(server, **q, address=many).json()["result"]) == 20
        assert get(server, **q, address=f"{A},0x12").json() == {"message": "Invalid address hash", "result": None,
                                                                "status": "0"}
        tb = {"module": "account", "action": "tokenbalance"}
        assert get(server, **tb, contractaddress=TOKEN, address=STRANGER).json() == {"status": "1", "message": "OK",
                                                                                   "result": "0"}
        assert int(get(server, **tb, contractaddress=TOKEN, address=B).json()["result"]) > 0
        assert get(server, **tb).json()["message"] == "Required query parameters missing: contractaddress, address"


def test_blockscout_rate_limit():
    """Part 1 §0.7, §3 "Rate limited" and §4: HTTP 429, x-ratelimit-* with reset in ms, bypass-429-option,
    no Retry-After, the v10 body; the same for /api/eth-rpc; success carries the headers too."""
    with serve(dialect="blockscout", rate_limit=2) as server:
        ok = get(server, module="block", action="eth_block_number")
        assert ok.status_code == 200 and ok.headers["x-ratelimit-limit"] == "2"
        assert ok.headers["x-ratelimit-remaining"] == "1"
        get(server, module="block", action="eth_block_number")
        for r in (get(server, module="block", action="eth_block_number"),
                  rpc(server, {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})):
            assert r.status_code == 429
            assert r.json() == {"status": "0", "message": BS_RATE, "result": None}
            assert r.json()["message"] == "Too many requests. Increase limits now at https://dev.blockscout.com"
            assert r.headers["x-ratelimit-limit"] == "2" and r.headers["x-ratelimit-remaining"] == "0"
            assert 0 < int(r.headers["x-ratelimit-reset"]) <= 1000
            assert r.headers["bypass-429-option"] == "no_bypass" and "Retry-After" not in r.headers
        assert server.rate_limited == 2
    with serve(dialect="blockscout", rate_limit=1, blockscout_rate_text="Too Many Requests") as server:
        get(server, module="block", action="eth_block_number")
        assert get(server, module="block", action="eth_block_number").json()["message"] == "Too Many Requests"


@pytest.mark.parametrize("retired,status,ctype,check", [
    ("410", 410, "text/plain", lambda r: r.text == "Gone"),
    ("html", 200, "text/html", lambda r: r.text.startswith("<html>") and "API deprecated" in r.text),
    ("message", 200, "application/json", lambda r: r.json() == {
        "status": "0", "message": "The per-instance API is deprecated, use the PRO API at https://api.blockscout.com",
        "result": None}),
])
def test_blockscout_retired(retired, status, ctype, check):
    """Part 1 §0.9 and §7: whether and how the keyless per-instance API answers after its retirement is
    unconfirmed; each plausible answer is an option (the JSON text is this server's invention)."""
    with serve(dialect="blockscout", retired=retired) as server:
        for r in (get(server, **{**LIST, "action": "txlist", "address": A}),
                  rpc(server, {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})):
            assert r.status_code == status and r.headers["Content-Type"] == ctype and check(r)


def test_blockscout_ignores_apikey_and_chainid():
    """Part 1 §1: apikey (query or x-api-key) and chainid are ignored; never "Invalid API Key"."""
    with serve(dialect="blockscout", api_key="SECRET", other_chains={8453: Chain(head=1)}) as server:
        r = requests.get(server.url, params={"module": "block", "action": "eth_block_number", "apikey": "WRONG",
                                             "chainid": "8453"}, headers={"x-api-key": "nope"}, timeout=5)
        assert r.json()["result"] == "0x78" and server.last_headers["X-API-KEY"] == "nope"


# ---- Blockscout PRO (Part 1 §5) --------------------------------------------------------------------------------

def test_pro_routes_and_keys():
    """Part 1 §5 "Routes" and "Auth": /v2/api?chain_id=N, /N/api, POST /N/json-rpc; a key on every request
    (query apikey or Authorization: Bearer); gateway errors are {"error": ...}, not the envelope."""
    with serve(dialect="blockscout-pro", api_key="proapi_good", other_chains={8453: Chain(head=7)}) as server:
        q = {"module": "block", "action": "eth_block_number"}
        assert get(server, **q, chain_id="1", apikey="proapi_good").json()["result"] == "0x78"
        assert get(server, **q, chain_id="8453", apikey="proapi_good").json()["result"] == "0x7"
        assert get(server, "/8453/api", **q, apikey="proapi_good").json()["result"] == "0x7"
        r = requests.post(server.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
                          headers={"Authorization": "Bearer proapi_good"}, timeout=5)
        assert r.json() == {"jsonrpc": "2.0", "result": "0x78", "id": 1}
        assert server.last_headers["authorization"] == "Bearer proapi_good"
        none = get(server, **q, chain_id="1")
        assert none.status_code == 401
        assert none.json() == {"error": "Proceed with API key or make a X402 payment to continue"}
        wrong = rpc(server, {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
                    headers={"Authorization": "Bearer proapi_bad"})
        assert wrong.status_code == 401 and wrong.json() == {"error": "Unauthorized"}
        assert get(server, module="proxy", action="eth_blockNumber", chain_id="1", apikey="proapi_good").json() == {
            "message": "Unknown module", "result": None, "status": "0"}  # the instance's module behaviour behind it
        assert get(server, **q, chainid="1", apikey="proapi_good").status_code == 400  # chain_id, not chainid
    with serve(dialect="blockscout-pro", pro_chainid_alias=True) as server:
        r = get(server, module="block", action="eth_block_number", chainid="1", apikey="any")
        assert r.json()["result"] == "0x78"


def test_pro_credits_and_rate_limit():
    """Part 1 §5 "Gateway errors" and "Plan limits": 20 credits a call, x-credits-remaining on every answer,
    HTTP 402 {"error":"Out of credits"} at zero; HTTP 429 with x-ratelimit-reset in ms (body unconfirmed)."""
    with serve(dialect="blockscout-pro", credits=50) as server:
        q = {"module": "block", "action": "eth_block_number", "chain_id": "1", "apikey": "k"}
        seen = [get(server, **q) for _ in range(4)]
        assert [r.status_code for r in seen] == [200, 200, 200, 402]
        assert [r.headers["x-credits-remaining"] for r in seen] == ["30", "10", "0", "0"]
        assert seen[3].json() == {"error": "Out of credits"}
        keyless = get(server, module="block", action="eth_block_number", chain_id="1")
        assert keyless.status_code == 401 and keyless.headers["x-credits-remaining"] == "0"
    with serve(dialect="blockscout-pro", rate_limit=1) as server:
        q = {"module": "block", "action": "eth_block_number", "chain_id": "1", "apikey": "k"}
        get(server, **q)
        r = get(server, **q)
        assert r.status_code == 429 and r.json() == {"error": "Too Many Requests"}
        assert 0 < int(r.headers["x-ratelimit-reset"]) <= 1000 and "Retry-After" not in r.headers
    for variant, check in (("envelope", lambda r: r.json()["message"] == BS_RATE),
                           ("text", lambda r: r.text == "Too Many Requests")):
        with serve(dialect="blockscout-pro", rate_limit=1, pro_429=variant, pro_retry_after=True) as server:
            q = {"module": "block", "action": "eth_block_number", "chain_id": "1", "apikey": "k"}
            get(server, **q)
            r = get(server, **q)
            assert r.status_code == 429 and check(r) and r.headers["Retry-After"] == "1"
