// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// Behaves like a Tornado Cash ETH pool on test chains (placed at a real pool address with
/// anvil_setCode, then init(denomination)): same Deposit and Withdrawal events, no zero-knowledge proof.
contract TornadoPoolMock {
    uint256 public denomination;
    uint32 public nextIndex;

    event Deposit(bytes32 indexed commitment, uint32 leafIndex, uint256 timestamp);
    event Withdrawal(address to, bytes32 nullifierHash, address indexed relayer, uint256 fee);

    function init(uint256 denomination_) external {
        require(denomination == 0, "initialised");
        denomination = denomination_;
    }

    function deposit(bytes32 commitment) external payable {
        require(denomination > 0 && msg.value == denomination, "wrong amount");
        emit Deposit(commitment, nextIndex, block.timestamp);
        nextIndex += 1;
    }

    function withdraw(address payable recipient, bytes32 nullifierHash, address payable relayer, uint256 fee) external {
        require(fee <= denomination, "fee");
        (bool ok, ) = recipient.call{value: denomination - fee}("");
        require(ok, "payout failed");
        if (fee > 0) {
            (bool paid, ) = relayer.call{value: fee}("");
            require(paid, "fee failed");
        }
        emit Withdrawal(recipient, nullifierHash, relayer, fee);
    }
}
