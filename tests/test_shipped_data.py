"""Every address the tool ships, checked as a reviewer would: wrong data must be impossible to ship.

The seeds, the curated labels (which also tell the exit decoders which contracts to read) and the token registry:
each literal a valid address (EIP-55 where mixed-case), each entry sourced, no address twice with conflicting
meanings, and the corrections of the public-source audit (see the README's labels section) in place.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest
from eth_utils import is_checksum_address

from tracer.addresses import parse_address
from tracer.exits import is_exit_venue, is_tornado_pool
from tracer.labels import DECODERS, SERVICE_CATEGORIES, curated_labels, decoding, parse_entries, use_labels_file
from tracer.seeds import ROLES, all_seeds, cases
from tracer.tokens import REGISTRY

FBI_URL = "https://www.ic3.gov/PSA/2025/PSA250226"


@pytest.fixture(autouse=True)
def shipped_only():
    use_labels_file(None)
    yield


def shipped_labels() -> list[dict]:
    return json.loads(resources.files("tracer.data").joinpath("labels.json").read_text(encoding="utf-8"))["labels"]


def shipped_seeds() -> list[dict]:
    return json.loads(resources.files("tracer.data").joinpath("seed_addresses.json").read_text(encoding="utf-8"))[
        "addresses"]


def test_every_literal_is_an_address_the_tool_itself_would_accept():
    literals = [e["address"] for e in shipped_labels()] + [e["address"] for e in shipped_seeds()]
    for literal in literals:
        parse_address(literal)  # raises on a bad EIP-55 checksum, as for a user's input
        body = literal[2:]
        assert body == body.lower() or is_checksum_address(literal), literal
    for token in REGISTRY.values():
        assert token.address == token.address.lower() and parse_address(token.address) == token.address


def test_every_label_is_sourced_and_checked_by_the_same_rules_as_a_users_file():
    labels = parse_entries(shipped_labels(), "data/labels.json")  # raises on any bad field
    assert all(lab.source and lab.label and lab.category for lab in labels)
    assert all(token.source for token in REGISTRY.values())


def test_no_address_is_shipped_twice_with_two_meanings():
    labels = [e["address"].lower() for e in shipped_labels()]
    assert len(labels) == len(set(labels))
    seeds = [e["address"].lower() for e in shipped_seeds()]
    assert len(seeds) == len(set(seeds))
    # a seed is an attributed wallet or exploit contract; a service label on it would stop every trace there
    assert not set(seeds) & set(labels)
    assert not set(seeds) & set(REGISTRY)
    assert not set(labels) & set(REGISTRY)  # tokens are labelled from the registry alone


def test_every_decoded_contract_is_labelled_with_its_decoders_category_and_code():
    by_decoder = {d: decoding(d) for d in DECODERS}
    assert all(by_decoder.values()), "every decoder reads at least one shipped contract"
    for decoder, found in by_decoder.items():
        for address, label in found.items():
            assert label.category == DECODERS[decoder] and label.code == "contract" and is_exit_venue(address)
    for address, label in curated_labels().items():
        assert is_exit_venue(address) == (label.decoder is not None)
        assert label.category in SERVICE_CATEGORIES or label.category == "token"
    pools = decoding("tornado-pool")
    assert all(is_tornado_pool(a) and p.denomination and p.asset for a, p in pools.items())


def test_seeds_name_who_attributed_them_never_the_fbi_where_it_did_not():
    roles = {r: 0 for r in ROLES}
    for seed in all_seeds():
        roles[seed.role] += 1
        assert seed.case in cases() and seed.sources and all(s.name for s in seed.sources)
        cites_fbi = any(s.url == FBI_URL for s in seed.sources)
        assert cites_fbi == ("FBI PSA I-022625-PSA address" in seed.label), seed.address
        if not cites_fbi:
            assert "per FBI" not in seed.attribution, seed.address
    fbi = [s for s in all_seeds() if any(src.url == FBI_URL for src in s.sources)]
    assert len(fbi) == 51 and [s.label for s in fbi] == [f"FBI PSA I-022625-PSA address {n}/51" for n in range(1, 52)]


def test_the_audits_findings_are_in_place():
    """../shared/notes/data-audit.md (2026-11-30): W1-W3, M1-M6, U2; each one asserted here."""
    labels = curated_labels()
    seeds = {s.key: s for s in all_seeds()}
    # W1: an executor of Delta settlements, not a router; W2: the three literals now pass EIP-55
    assert "AugustusExecutor" in labels["0x6bb000067005450704003100632eb93ea00c0000"].label
    literals = {e["address"] for e in shipped_labels()}
    assert {"0x6BB000067005450704003100632eB93ea00c0000", "0xFe837A3530dD566401d35beFCd55582AF7c4dfFC",
            "0x04708077eCa6bb527a5BBbD6358ffb043a9c1C14"} <= literals
    # W3: the three non-PSA Bybit seeds no longer cite the PSA
    for address in ("0x47666fab8bd0ac7003bce3f5c3585383f09486e2", "0x0fa09c3a328792253f8dee7116848723b72a6d2e",
                    "0xbdd077f651ebe7f7b3ce16fe5f2b025be2969516"):
        assert all(s.url != FBI_URL for s in seeds[address].sources)
    # M1: the 10,000 ETH tranche wallet starts a trace of the case; M3: the exploit tooling is complete
    tranche = seeds["0x36ed3c0213565530c35115d93a80f9c04d94e4cb"]
    assert tranche.role == "laundering" and tranche.case == "bybit-2025-02"
    for tooling in ("0x96221423681a6d52e184d440a8efcebb105c7242", "0x2444c026ebe6d476e97baeb003071bea9c13a953",
                    "0x19c6876e978d9f128147439ac4cd9ea2582cd141", "0x509b1eda8e9ffed34287cce11f6de70bff5fef55",
                    "0x5c6120ba4c5b5e18ddcb9589e649e86ee6d540dd", "0xe8b36709dd86893bf7bb78a7f9746b826f0e8c84"):
        assert seeds[tooling].role == "exploit-tooling"
    # M2, M4, M6: the decoders read V6.1, the second LI.FI diamond, the Old Proxy and the ERC-20 pools
    assert "0x00dc6100103bc402d490aee3f9a5560cbd91f1d4" in decoding("thorchain-router")
    assert "0x9b11bc9fac17c058cab6286b0c785be6a65492ef" in decoding("lifi-diamond")
    assert "0x905b63fff465b9ffbf41dea908ceb12478ec7601" in decoding("tornado-entrance")
    pools = decoding("tornado-pool")
    by_asset: dict[str, list[int]] = {}
    for pool in pools.values():
        by_asset.setdefault(pool.asset, []).append(pool.denomination)
    assert sorted(by_asset["ETH"]) == [10**17, 10**18, 10**19, 10**20]
    assert sorted(by_asset["0x6b175474e89094c44da98b954eedeac495271d0f"]) == [10**20, 10**21, 10**22, 10**23]  # DAI
    assert sorted(by_asset["0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"]) == [10**8, 10**9]  # USDC, 6 decimals
    assert sorted(by_asset["0x2260fac5e5542a773aa44fbcfedf7c193bc2c599"]) == [10**7, 10**8, 10**9]  # WBTC, 8 decimals
    # M5: value sent straight into these is an exit into a service, not a trail through an unknown contract
    for address in ("0xbeb5fc579115071764c7423a4f12edde41f106ed", "0x49048044d57e1c92a77f79988d21fa8faf74e97e",
                    "0x8315177ab297ba92a06054ce80a67ed4dbd7ed3a", "0x000000000004444c5dc75cb358380d2e3de08a90",
                    "0xdc24316b9ae028f1497c275eb9192a3ea0f67022", "0x889edc2edab5f40e902b864ad4d7ade8e412f9b1",
                    "0xe3cbd06d7dadb3f4e6557bab7edd924cd1489e8f", "0x5e1f62dac767b0491e3ce72469c217365d5b48cc"):
        assert labels[address].category in SERVICE_CATEGORIES and labels[address].code == "contract"
    # U2: the eXch wallet says what it rests on
    assert "OSINT only" in labels["0xf1da173228fcf015f43f3ea15abbb51f0d8f1123"].source
    # U1: the disputed Maya router is not shipped; the shipped one says why
    assert "0xefcb6efd89013d1a825c4bfc5a781266bcc78021" not in labels
    assert "0xEfcb6efd89013d1A825C4bFC5A781266BCc78021" in labels["0xe3985e6b61b814f7cdb188766562ba71b446b46d"].source


def test_chainflip_assets_and_lifi_chains_name_what_the_audit_listed():
    from tracer.exits import CHAINFLIP_ASSETS, LIFI_NON_EVM_CHAINS
    assert [CHAINFLIP_ASSETS[i] for i in range(6, 11)] == ["arbETH", "arbUSDC", "USDT", "SOL", "solUSDC"]
    assert {LIFI_NON_EVM_CHAINS[i] for i in (20000000000002, 20000000000003, 20000000000004, 9270000000000000,
                                              1885080386571452, 9271000000000010)} == {
        "bch", "ltc", "doge", "sui", "tron", "aptos"}
