#!/usr/bin/env bash
# Installs Debian's chromium (the HTML report is tested in a real headless browser, driven by
# playwright with executable_path; playwright's own browser download is never used).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-browser: chromium is missing; run as root or: sudo apt-get install chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
