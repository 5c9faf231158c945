// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IERC20 {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// A DEX-like venue: takes a token and pays ETH back in the same transaction,
/// at a fixed rate in parts per million (ETH comes from its own balance).
contract MockDex {
    uint256 public ratePpm = 1_000_000;

    function setRate(uint256 ppm) external {
        ratePpm = ppm;
    }

    function swapTokenForEth(address token, uint256 amount) external returns (uint256 out) {
        require(IERC20(token).transferFrom(msg.sender, address(this), amount), "pull failed");
        out = amount * ratePpm / 1_000_000;
        (bool ok, ) = payable(msg.sender).call{value: out}("");
        require(ok, "pay failed");
    }

    receive() external payable {}
}
