"""Nightly reruns through a node: the chain grew; only the new blocks are asked for."""

import json

from anvil import Anvil
from helpers import run_cli, store_snapshot
from rpc_proxy import RpcProxy
from conftest import needs_anvil

ETHER = 10**18


def rpc_trace(url, db, seed):
    result = run_cli("trace", seed, "--db", db, "--source", "rpc", "--rpc-url", url, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@needs_anvil
def test_rerun_on_a_grown_chain_fetches_only_new_blocks_and_equals_a_fresh_trace(tmp_path):
    import scenario

    with Anvil() as node, RpcProxy(node.url) as proxy:
        s = scenario.build(node)
        nightly = tmp_path / "nightly.db"
        first = rpc_trace(proxy.url, nightly, s.seed)
        head_then = first["head_block"]

        # a day later: dormant funds move, and a new hop opens
        b = scenario.Builder(node, start_time=scenario.START_TIME + 86_400)
        fresh_addr = scenario.addr("new-day-2")
        b.send(s.swap_payee, fresh_addr, 50 * ETHER)
        b.send(s.fanout[3], scenario.addr("new-day-2b"), 3 * ETHER)
        node.rpc("anvil_mine", "0x5")

        proxy.log.clear()
        second = rpc_trace(proxy.url, nightly, s.seed)
        assert second["new_transfers"] == 2 and second["new_addresses"] == 2
        for method in ("eth_getLogs", "trace_filter"):
            for params in proxy.calls(method):
                if params[0].get("fromAddress") == ["0x" + "00" * 20]:
                    continue  # the once-per-run support probe
                assert int(params[0]["fromBlock"], 16) >= head_then - 12 + 1, (method, params)

        fresh = tmp_path / "fresh.db"
        rpc_trace(node.url, fresh, s.seed)
    assert store_snapshot(nightly) == store_snapshot(fresh)
