// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// The implementation behind a Safe-style proxy on test chains: the proxy's
/// slot 0 holds this contract's address, slot 1 the owner. execute() sends
/// ETH out of the wallet by an internal call, as a Safe's execTransaction does.
contract WalletImpl {
    address internal singleton;
    address public owner;

    function execute(address payable to, uint256 value) external {
        require(msg.sender == owner, "not owner");
        (bool ok, ) = to.call{value: value}("");
        require(ok, "send failed");
    }

    receive() external payable {}
}
