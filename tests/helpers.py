"""Shared helpers: run the CLI against the local explorer, read a store's contents."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli import cli


def run_cli(*args: str, env: dict | None = None):
    runner = CliRunner()
    return runner.invoke(cli, [str(a) for a in args], env=env or {}, catch_exceptions=False)


def trace(server, db_path, *extra: str, seed: str = "0x47666Fab8bd0Ac7003bce3f5C3585383F09486E2"):
    """`tracer trace` against the local server; returns the parsed --json summary."""
    result = run_cli("trace", seed, "--db", db_path, "--explorer-url", server.url, "--rate", "200",
                     "--json", "--quiet", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def store_snapshot(db_path) -> dict:
    """Everything that should be identical between two stores of the same trace (a file or a PostgreSQL case)."""
    from tracer.store import Store

    store = Store.open(str(db_path), create=False)
    conn = store.conn
    try:
        transfers = sorted(tuple(r) for r in conn.execute(
            "SELECT id, tx_hash, kind, position, block, timestamp, from_addr, to_addr, token, asset, decimals,"
            " amount, flags FROM transfers").fetchall())
        addresses = sorted(tuple(r) for r in conn.execute(
            "SELECT address, is_contract, code_kind, hop, reach_block, followed, category FROM addresses"
            " WHERE hop IS NOT NULL").fetchall())
    finally:
        store.close()
    return {"transfers": transfers, "addresses": addresses}
