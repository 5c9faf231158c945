"""Bridge and mixer event decoders on logs built with the real event layouts."""

from eth_abi import encode

from tracer.exits import (CHAINFLIP_SWAP_NATIVE, CHAINFLIP_SWAP_TOKEN, LIFI_NON_EVM, LIFI_NON_EVM_RECEIVER,
                          LIFI_STARTED, THORCHAIN_DEPOSIT, TORNADO_DEPOSIT, decode_receipt)

VAULT = "0xf5e10380213880111522dd0efd3dbb45b9f62bcc"
LIFI = "0x1231deb6f5749ef6ce6943a275a1d3e7486f4eae"
ROUTER = "0xd37bbe5744d730a1d98d8dc97c42f0ca46ad7146"
SENDER = "0x" + "ab" * 20
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"


def word(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def receipt(*logs):
    return {"transactionHash": "0x" + "cd" * 32, "from": SENDER,
            "logs": [{**lg, "logIndex": hex(i)} for i, lg in enumerate(logs)]}


def test_chainflip_native_swap_to_bitcoin():
    data = encode(["uint32", "bytes", "uint32", "uint256", "bytes"], [3, b"bc1qdest", 5, 10**18, b""])
    (e,), bad = decode_receipt(receipt({"address": VAULT, "topics": [CHAINFLIP_SWAP_NATIVE, word(SENDER)],
                                        "data": "0x" + data.hex()}), 1, 2)
    assert bad == 0 and (e.protocol, e.dest_chain, e.dest_address, e.dest_asset) == ("chainflip", "btc", "bc1qdest", "BTC")
    assert e.amount == 10**18 and e.token == "ETH" and e.dest_node == "btc:bc1qdest"


def test_chainflip_token_swap_to_an_evm_chain():
    dest = bytes.fromhex("11" * 20)
    data = encode(["uint32", "bytes", "uint32", "address", "uint256", "bytes"], [4, dest, 1, USDC, 5_000_000, b""])
    (e,), _ = decode_receipt(receipt({"address": VAULT, "topics": [CHAINFLIP_SWAP_TOKEN, word(SENDER)],
                                      "data": "0x" + data.hex()}), 1, 2)
    assert e.dest_chain == "arb" and e.dest_address == "0x" + "11" * 20 and e.token == USDC and e.amount == 5_000_000


def test_lifi_evm_and_non_evm():
    tx_id = b"\x07" * 32
    bridge_data = (tx_id, "stargate", "jumper", "0x" + "00" * 20, "0x" + "00" * 20, "0x" + "22" * 20, 3 * 10**18,
                   42161, False, False)
    started = encode(["(bytes32,string,string,address,address,address,uint256,uint256,bool,bool)"], [bridge_data])
    (e,), _ = decode_receipt(receipt({"address": LIFI, "topics": [LIFI_STARTED], "data": "0x" + started.hex()}), 1, 2)
    assert (e.protocol, e.dest_chain, e.dest_address, e.amount) == ("lifi", "arb", "0x" + "22" * 20, 3 * 10**18)
    to_btc = (tx_id, "thorswap", "jumper", "0x" + "00" * 20, "0x" + "00" * 20, LIFI_NON_EVM_RECEIVER, 10**18,
              20000000000001, False, False)
    logs = [
        {"address": LIFI, "topics": [LIFI_STARTED], "data": "0x" + encode(
            ["(bytes32,string,string,address,address,address,uint256,uint256,bool,bool)"], [to_btc]).hex()},
        {"address": LIFI, "topics": [LIFI_NON_EVM, "0x" + tx_id.hex(), "0x" + (20000000000001).to_bytes(32, "big").hex()],
         "data": "0x" + encode(["bytes"], [b"bc1qlifidest"]).hex()},
    ]
    (e,), _ = decode_receipt(receipt(*logs), 1, 2)
    assert e.dest_chain == "btc" and e.dest_address == "bc1qlifidest"


def test_thorchain_token_deposit_and_hostile_logs():
    data = encode(["uint256", "string"], [7_000_000, "=:b:bc1qtok"])
    good = {"address": ROUTER, "topics": [THORCHAIN_DEPOSIT, word("0x" + "33" * 20), word(USDC)], "data": "0x" + data.hex()}
    garbage = [
        {"address": ROUTER, "topics": [THORCHAIN_DEPOSIT, word(SENDER), word(USDC)], "data": "0xdeadbeef"},
        {"address": VAULT, "topics": [CHAINFLIP_SWAP_NATIVE], "data": "0x" + "ff" * 64},
        {"address": "0xa160cdab225685da1d56aa342ad8841c3b53f291", "topics": [TORNADO_DEPOSIT, "0x" + "00" * 32],
         "data": "0x12"},
        {"address": ROUTER, "topics": [], "data": "0x"},
        {"address": ROUTER, "topics": [THORCHAIN_DEPOSIT, word(SENDER), word(USDC)], "data": "not hex"},
    ]
    exits, bad = decode_receipt(receipt(good, *garbage), 1, 2)
    assert len(exits) == 1 and bad == 4
    assert exits[0].token == USDC and exits[0].dest_address == "bc1qtok" and exits[0].venue == "0x" + "33" * 20


def test_events_from_other_contracts_are_ignored():
    data = encode(["uint256", "string"], [1, "=:b:bc1qfake"])
    fake = {"address": "0x" + "99" * 20, "topics": [THORCHAIN_DEPOSIT, word(SENDER), word(USDC)], "data": "0x" + data.hex()}
    assert decode_receipt(receipt(fake), 1, 2) == ([], 0)


def test_a_tornado_erc20_pool_deposit_is_its_tokens_denomination():
    """DAI 1,000 and WBTC 0.1 pools (data-audit M6): the exit carries the pool's token and exact base units."""
    for pool, token, amount in (("0xfd8610d20aa15b7b2e3be39b396a1bc3516c7144",
                                 "0x6b175474e89094c44da98b954eedeac495271d0f", 1000 * 10**18),
                                ("0x178169b423a011fff22b9e3f3abea13414ddd0f1",
                                 "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599", 10**7)):
        data = encode(["uint32", "uint256"], [7, 1_740_150_000])
        (e,), bad = decode_receipt(receipt({"address": pool, "topics": [TORNADO_DEPOSIT, "0x" + "99" * 32],
                                            "data": "0x" + data.hex()}), 1, 2)
        assert bad == 0 and (e.protocol, e.venue, e.token, e.amount) == ("tornado", pool, token, amount)
        assert e.detail["denomination"] == str(amount) and e.detail["leaf_index"] == 7
