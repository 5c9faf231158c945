import json

import pytest

from tracer.models import COUNTERFEIT, UNVERIFIED_TOKEN
from tracer.tokens import REGISTRY, skeleton, token_flags

STETH = "0xae7ab96520de3a18e5e111b5eaab095312d7fe84"


def test_registry_has_the_assets_of_the_bybit_theft_by_exact_address():
    for addr, symbol in [(STETH, "stETH"), ("0xd5f7838f5c461feff7fe49ea5ebaf7728bb0adfa", "mETH"),
                         ("0xe6829d9a7ee3040e1276fa75293bde931859e8fa", "cmETH")]:
        assert REGISTRY[addr].symbol == symbol and REGISTRY[addr].eth_equivalent
    for symbol in ("WETH", "USDT", "USDC", "DAI", "wstETH", "WBTC"):
        assert any(t.symbol == symbol for t in REGISTRY.values())


@pytest.mark.parametrize("symbol", ["EТH", "ЕТН...", "ЕTH", "stEТH", "ѕтETН", "ETH", "stETH", "ЕRC20", "ｓｔＥＴＨ"])
def test_symbols_imitating_registered_ones_or_disguised_are_counterfeit(symbol):
    assert token_flags("0x0d99217c4084b141dcab56d83693994ba8fda911", symbol) == {COUNTERFEIT}


def test_registered_contract_is_clean_whatever_it_calls_itself():
    assert token_flags(STETH, "stETH") == frozenset()


def test_other_unknown_tokens_are_unverified():
    assert token_flags("0x98bdd7aadda75cc41776c4e8e529457a781c6c5f", "BybitExploiter") == {UNVERIFIED_TOKEN}


def test_skeleton_folds_cyrillic_and_drops_decoration():
    assert skeleton("ЕТН...") == "ETH"
    assert skeleton("ѕтETН") == "STETH"


def test_every_token_row_in_the_fixture_is_classified_as_the_analyst_did(fixture_chain):
    """Only stETH, mETH and cmETH at their real contracts are legitimate; all else is spam."""
    legit = {STETH, "0xd5f7838f5c461feff7fe49ea5ebaf7728bb0adfa", "0xe6829d9a7ee3040e1276fa75293bde931859e8fa"}
    for row in fixture_chain.records["tokentx"]:
        flags = token_flags(row["contractAddress"], row["tokenSymbol"])
        assert (not flags) == (row["contractAddress"] in legit), json.dumps(row, ensure_ascii=False)
