from tracer.codes import CONTRACT, EOA, WALLET_CONTRACT, classify_code

# Runtime code of a Safe (Gnosis Safe) v1.3.0 proxy, as deployed by the Safe proxy factory.
SAFE_PROXY = (
    "0x608060405273ffffffffffffffffffffffffffffffffffffffff600054167fa619486e00000000000000000000000000000000"
    "00000000000000000000000060003514156050578060005260206000f35b3660008037600080366000845af43d6000803e6000"
    "8114156070573d6000fd5b3d6000f3fea2646970667358221220d1429297349653a4918076d650332de1a1068c5f3e07c5c8"
    "2360c277770b955264736f6c63430007060033"
)


def test_code_kinds():
    assert classify_code("0x") == EOA
    assert classify_code(SAFE_PROXY) == WALLET_CONTRACT
    assert classify_code("0xef0100" + "11" * 20) == WALLET_CONTRACT  # EIP-7702 delegation
    assert classify_code("0x6080604052348015600f57600080fd5b50") == CONTRACT
