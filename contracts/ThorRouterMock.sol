// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// Behaves like THORChain's router for ETH deposits on test chains (placed at the real
/// v4.1 router address): forwards the ETH to the vault and emits the router's Deposit event.
contract ThorRouterMock {
    event Deposit(address indexed to, address indexed asset, uint256 amount, string memo);

    function depositWithExpiry(address payable vault, address asset, uint256 amount, string calldata memo,
                               uint256 expiration) external payable {
        require(block.timestamp < expiration, "expired");
        require(asset == address(0), "mock takes ETH only");
        amount;
        (bool ok, ) = vault.call{value: msg.value}("");
        require(ok, "vault refused");
        emit Deposit(vault, asset, msg.value, memo);
    }
}
