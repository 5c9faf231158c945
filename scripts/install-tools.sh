#!/usr/bin/env bash
# Installs, from the npm registry and pinned (bump versions here only):
# - the local Ethereum node (anvil) and the Solidity compiler (solc-js) used by the tests, into .tools/;
# - cytoscape.js, the graph library `tracer report` inlines into its self-contained HTML, and
#   cytoscape-dagre (the layered left-to-right layout of its flow chart; dagre and graphlib are bundled in
#   its dist file), copied into tracer/vendor/ (both ignored by git: built here, never fetched when a report
#   is written or opened).
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --prefix .tools --no-audit --no-fund --silent \
  @foundry-rs/anvil-linux-amd64@1.7.1 solc@0.8.37 cytoscape@3.34.4 cytoscape-dagre@4.0.1
mkdir -p tracer/vendor
cp .tools/node_modules/cytoscape/dist/cytoscape.min.js tracer/vendor/cytoscape.min.js
cp .tools/node_modules/cytoscape/LICENSE tracer/vendor/cytoscape.LICENSE
cp .tools/node_modules/cytoscape-dagre/dist/cytoscape-dagre.min.js tracer/vendor/cytoscape-dagre.min.js
cp .tools/node_modules/cytoscape-dagre/LICENSE tracer/vendor/cytoscape-dagre.LICENSE
