#!/usr/bin/env bash
# Installs the local Ethereum node (anvil) and the Solidity compiler (solc-js) used by the tests,
# from the npm registry, into .tools/ (ignored by git). Pinned versions: bump them here only.
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --prefix .tools --no-audit --no-fund --silent \
  @foundry-rs/anvil-linux-amd64@1.7.1 solc@0.8.37
