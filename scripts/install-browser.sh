#!/usr/bin/env bash
# Debian packages the tests need: chromium (the HTML report is tested in a real headless browser,
# driven by playwright with executable_path; playwright's own browser download is never used).
# As root they are installed; otherwise the one apt-get line to run is printed.
set -euo pipefail
PACKAGES="chromium fonts-dejavu-core"
if command -v chromium >/dev/null 2>&1 && dpkg -s fonts-dejavu-core >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup: the browser tests need Debian packages; run: sudo apt-get install -y --no-install-recommends $PACKAGES" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
