// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// Behaves like a Tornado Cash ETH pool of 100 ETH on test chains (placed at the real pool
/// address): same Deposit and Withdrawal events, no zero-knowledge proof.
contract TornadoPoolMock {
    uint256 public constant DENOMINATION = 100 ether;
    uint32 public nextIndex;

    event Deposit(bytes32 indexed commitment, uint32 leafIndex, uint256 timestamp);
    event Withdrawal(address to, bytes32 nullifierHash, address indexed relayer, uint256 fee);

    function deposit(bytes32 commitment) external payable {
        require(msg.value == DENOMINATION, "wrong amount");
        emit Deposit(commitment, nextIndex, block.timestamp);
        nextIndex += 1;
    }

    function withdraw(address payable recipient, bytes32 nullifierHash, address payable relayer, uint256 fee) external {
        require(fee <= DENOMINATION, "fee");
        (bool ok, ) = recipient.call{value: DENOMINATION - fee}("");
        require(ok, "payout failed");
        if (fee > 0) {
            (bool paid, ) = relayer.call{value: fee}("");
            require(paid, "fee failed");
        }
        emit Withdrawal(recipient, nullifierHash, relayer, fee);
    }
}
