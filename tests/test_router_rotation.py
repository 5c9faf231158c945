"""Routers rotate faster than releases: THORChain Router V6.1 (shipped), a router named only in the user's labels
file, and plain ETH transfers with a memo, judged by what is known of their receiver. On anvil, with the router
mock placed at the real addresses, and on logs built with the real event layout."""

from __future__ import annotations

import json

import pytest
from eth_abi import encode

from conftest import needs_anvil
from helpers import run_cli
from tracer.exits import THORCHAIN_DEPOSIT, decode_receipt, is_exit_venue
from tracer.labels import decoder_of, use_labels_file
from tracer.store import Store

V61 = "0x00dc6100103bc402d490aee3f9a5560cbd91f1d4"  # THORChain Router V6.1 (Mainnet-RouterV61-Deployment.md)
NEW_ROUTER = "0x" + "7e" * 20  # a router THORChain might deploy next: known only to the user's labels file
ETHER = 10**18


@pytest.fixture(autouse=True)
def shipped_labels_only():
    use_labels_file(None)
    yield
    use_labels_file(None)


def users_labels(tmp_path, *entries) -> str:
    path = tmp_path / "my-labels.json"
    path.write_text(json.dumps({"labels": list(entries)}))
    return str(path)


def router_entry(address: str = NEW_ROUTER) -> dict:
    return {"address": address, "label": "THORChain Router v7 (announced in #thorchain-dev)", "category": "bridge",
            "source": "my notes, 2026-12-01", "code": "contract", "decoder": "thorchain-router"}


def deposit_log(router: str, vault: str, memo: str, amount: int = 3 * ETHER) -> dict:
    return {"address": router, "logIndex": "0x0",
            "topics": [THORCHAIN_DEPOSIT, "0x" + "0" * 24 + vault[2:], "0x" + "0" * 64],
            "data": "0x" + encode(["uint256", "string"], [amount, memo]).hex()}


def test_a_v61_deposit_decodes_like_the_routers_before_it():
    vault = "0x" + "5a" * 20
    receipt = {"transactionHash": "0x" + "ab" * 32, "from": "0x" + "cd" * 20,
               "logs": [deposit_log(V61, vault, "=:BTC.BTC:bc1qv61dest:0/1/0")]}
    (e,), bad = decode_receipt(receipt, 23_300_000, 1_757_000_000)
    assert bad == 0 and (e.protocol, e.venue, e.dest_chain, e.dest_address) == ("thorchain", vault, "btc", "bc1qv61dest")
    assert e.amount == 3 * ETHER and e.token == "ETH" and e.detail["router"] == V61


def test_a_router_in_the_users_labels_file_decodes_and_without_it_does_not(tmp_path):
    receipt = {"transactionHash": "0x" + "ab" * 32, "from": "0x" + "cd" * 20,
               "logs": [deposit_log(NEW_ROUTER, "0x" + "5a" * 20, "=:BTC.BTC:bc1qnew")]}
    assert decode_receipt(receipt, 1, 2) == ([], 0) and not is_exit_venue(NEW_ROUTER)
    use_labels_file(users_labels(tmp_path, router_entry()))
    (e,), _ = decode_receipt(receipt, 1, 2)
    assert e.dest_address == "bc1qnew" and decoder_of(NEW_ROUTER) == "thorchain-router"


def test_a_users_file_may_override_a_shipped_label(tmp_path):
    exch = "0xf1dA173228fcf015F43f3eA15aBBB51f0d8f1123"
    use_labels_file(users_labels(tmp_path, {"address": exch, "label": "FixedFloat hot wallet", "category": "exchange",
                                            "source": "my own attribution"}))
    from tracer.labels import label_for
    assert label_for(exch).label == "FixedFloat hot wallet" and label_for(exch).source == "my own attribution"


@pytest.mark.parametrize("entry, says", [
    ({"address": "0x" + "7E" * 10 + "7e" * 10, "label": "x", "category": "bridge", "source": "s"}, "EIP-55"),
    ({"address": NEW_ROUTER, "label": "x", "category": "bridge", "source": ""}, "source is missing"),
    ({**router_entry(), "category": "dex"}, "a thorchain-router is labelled 'bridge'"),
    ({**router_entry(), "decoder": "thorchain"}, "unknown decoder"),
    ({**router_entry(), "address": NEW_ROUTER + "\n"}, "neither 0x followed by 40 hex digits nor a Bitcoin address"),
    ({"address": NEW_ROUTER, "label": "x", "category": "exchnage", "source": "s"}, "unknown category"),
    ({"address": NEW_ROUTER, "label": "pool", "category": "mixer", "source": "s", "decoder": "tornado-pool",
      "asset": "ETH", "denomination": 1.5}, "denomination"),
])
def test_a_bad_labels_file_is_one_line_and_a_non_zero_exit(tmp_path, entry, says):
    path = users_labels(tmp_path, entry)
    result = run_cli("--labels", path, "seeds")
    assert result.exit_code == 2 and says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_missing_labels_file_from_the_environment_is_named(tmp_path):
    result = run_cli("seeds", env={"TRACER_LABELS": str(tmp_path / "nowhere.json")})
    assert result.exit_code == 2 and "labels file" in result.stderr and "nowhere.json" in result.stderr


@needs_anvil
def test_on_anvil_v61_and_a_users_router_decode_and_memo_receivers_are_judged(tmp_path):
    from anvil import Anvil
    from scenario import Builder, addr, calldata

    node = Anvil()
    try:
        b = Builder(node)
        seed, vault, stranger = addr("rotation-seed"), addr("rotation-vault"), addr("rotation-stranger")
        b.fund(seed, 100 * ETHER)
        for router in (V61, NEW_ROUTER):
            b.place(router, "ThorRouterMock")
        deposit = "depositWithExpiry(address,address,uint256,string,uint256)"
        types = ["address", "address", "uint256", "string", "uint256"]
        via_v61 = b.send(seed, V61, 3 * ETHER, data=calldata(
            deposit, types, [vault, "0x" + "00" * 20, 3 * ETHER, "=:BTC.BTC:bc1qv61dest", 2**40]))
        via_new = b.send(seed, NEW_ROUTER, 2 * ETHER, data=calldata(
            deposit, types, [vault, "0x" + "00" * 20, 2 * ETHER, "=:BTC.BTC:bc1qnewdest", 2**40]))
        to_vault = b.send(seed, vault, ETHER, data="0x" + b"=:BTC.BTC:bc1qvaultdest".hex())
        to_stranger = b.send(seed, stranger, ETHER, data="0x" + b"=:BTC.BTC:bc1qlookalike".hex())
        db = tmp_path / "case.db"
        args = ["trace", seed, "--db", db, "--source", "rpc", "--rpc-url", node.url, "--hops", "1", "--quiet"]

        first = run_cli(*args)
        assert first.exit_code == 0, first.output
        exits = _exits(db)
        assert exits[via_v61]["dest_address"] == "bc1qv61dest" and exits[via_v61]["venue"] == vault
        assert json.loads(exits[via_v61]["detail"])["router"] == V61
        assert via_new not in exits  # a contract nobody has named a router: an unknown contract, not an exit
        vault_detail = json.loads(exits[to_vault]["detail"])
        assert vault_detail["vault"] == f"named as the vault of router deposit {via_v61}"
        assert "vault-unconfirmed" not in (exits[to_vault]["flags"] or "")
        assert "vault-unconfirmed" in exits[to_stranger]["flags"] and exits[to_stranger]["dest_address"] == "bc1qlookalike"

        second = run_cli("--labels", users_labels(tmp_path, router_entry()), *args)
        assert second.exit_code == 0, second.output
        exits = _exits(db)
        assert exits[via_new]["dest_address"] == "bc1qnewdest" and json.loads(exits[via_new]["detail"])["router"] == NEW_ROUTER
    finally:
        node.stop()


def _exits(db) -> dict:
    store = Store.open(db)
    try:
        return {r["tx_hash"]: dict(r) for r in store.exit_rows()}
    finally:
        store.close()


def test_relabelling_a_shipped_router_keeps_its_decoder_unless_told(tmp_path):
    v41 = "0xD37BbE5744D730a1d98d8DC97c42F0Ca46aD7146"
    use_labels_file(users_labels(tmp_path, {"address": v41, "label": "THORChain router (my name)",
                                            "category": "bridge", "source": "me"}))
    assert decoder_of(v41) == "thorchain-router"
    use_labels_file(users_labels(tmp_path, {"address": v41, "label": "not a router to me", "category": "bridge",
                                            "source": "me", "decoder": None}))
    assert decoder_of(v41) is None
