#!/usr/bin/env bash
# Debian's PostgreSQL server, for the tests of the PostgreSQL store: they make a throwaway cluster with
# initdb in a temporary directory and start it on a free 127.0.0.1 port (tests/pg_server.py); the
# package's own cluster is never made. As root the package is installed; otherwise the apt-get line is printed.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup: the PostgreSQL store tests need Debian's server; run: sudo apt-get install -y --no-install-recommends postgresql" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# no "main" cluster at install time: nothing to start, nothing listening on 5432 that the tests did not start
mkdir -p /etc/postgresql-common
grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf \
  || echo "create_main_cluster = false" >> /etc/postgresql-common/createcluster.conf
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
