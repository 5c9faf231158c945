import pytest

from tracer.addresses import parse_address
from tracer.errors import InputError

CHECKSUMMED = "0x47666Fab8bd0Ac7003bce3f5C3585383F09486E2"


def test_checksummed_lower_and_upper_forms_are_accepted():
    lower = CHECKSUMMED.lower()
    assert parse_address(CHECKSUMMED) == lower
    assert parse_address(lower) == lower
    assert parse_address("0x" + CHECKSUMMED[2:].upper()) == lower


def test_mixed_case_with_a_wrong_checksum_is_refused():
    bad = CHECKSUMMED[:-2] + "e2"  # flip the case of the last letter
    with pytest.raises(InputError, match="fails its EIP-55 checksum"):
        parse_address(bad)
    typo = CHECKSUMMED[:-1] + "3"  # one digit mistyped
    with pytest.raises(InputError, match="fails its EIP-55 checksum"):
        parse_address(typo)


@pytest.mark.parametrize("text", ["", "0x", "47666fab8bd0ac7003bce3f5c3585383f09486e2", "0x1234",
                                  "0x47666fab8bd0ac7003bce3f5c3585383f09486e2aa", "0xZZ666fab8bd0ac7003bce3f5c3585383f09486e2",
                                  "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"])
def test_malformed_addresses_are_refused(text):
    with pytest.raises(InputError, match="invalid address"):
        parse_address(text)
