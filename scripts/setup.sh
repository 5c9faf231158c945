#!/usr/bin/env bash
# All of the set-up, in one command (the README's first): the virtual environment with tracer and its
# test extras, the pinned npm tools (anvil, solc-js, cytoscape.js; see install-tools.sh), and the Debian
# packages the tests need (chromium for the HTML report tests, postgresql for the PostgreSQL store's). As root the packages are installed; as
# anyone else the one apt-get line to run is printed instead. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then  # anvil, solc-js and cytoscape.js come from the npm registry
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "setup: Node.js 18+ with npm is needed; run: sudo apt-get install -y nodejs npm" >&2
    exit 1
  fi
fi
python3 -m venv .venv
.venv/bin/pip install --quiet -e '.[test]'
scripts/install-tools.sh
scripts/install-browser.sh
scripts/install-postgres.sh
echo "setup: done; run the tests with: .venv/bin/python -m pytest -q"
