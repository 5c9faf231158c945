"""`tracer doctor`: ask the configured data sources once whether a trace would work, before a night's run.

An analyst setting up a nightly job wants to know now, not at 03:15, that the
keyless explorer was retired, that the key is the free tier (pages of 1,000,
100,000 calls a day), how much of today's quota the store's runs already
spent, or that the node is pruned or lacks trace_filter. Each check costs one
or two requests; the first problem found is what the command exits with.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import TracerError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def check_explorer(client, usage_today: dict[str, int] | None = None) -> list[Check]:
    from .sources.dialects import BLOCKSCOUT_INSTANCE, ETHERSCAN, keys_hint

    checks: list[Check] = []
    try:
        head = client.head_block()
    except TracerError as exc:
        return [Check("explorer", False, str(exc))]
    dialect = client.resolved_dialect()
    checks.append(Check("explorer", True, f"{client.endpoint.url.split('?')[0]} answered; head block {head:,}"))
    checks.append(Check("dialect", True, dialect.name + (" (from its first answer)" if client.endpoint.dialect == "auto"
                                                          else "")))
    if dialect.key_env:
        checks.append(Check("key", True, f"{dialect.key_env} accepted"))
    else:
        checks.append(Check("key", True, "none needed (keyless); this per-instance API is being retired: "
                                         + keys_hint()))
    checks.append(Check("page", True, _tier(client, dialect, ETHERSCAN, BLOCKSCOUT_INSTANCE)))
    checks.append(Check("rate", True, f"{client.rate:g} calls/s (slows down by itself when told to)"))
    used = (usage_today or {}).get(client.name)
    if used is not None:
        checks.append(Check("today", True, f"{used:,} requests sent to {client.name} today (UTC) by this store's runs"))
    if client.credits_remaining is not None:
        checks.append(Check("credits", client.credits_remaining > 0, f"{client.credits_remaining:,} left today"))
    return checks


def _tier(client, dialect, etherscan, blockscout) -> str:
    if dialect is etherscan:
        try:
            body = client._call_checked({"module": "getapilimit", "action": "getapilimit"})
            limit = int(body["result"]["creditLimit"])
        except (TracerError, KeyError, TypeError, ValueError):
            return f"pages of {client.page_size:,} rows (tier unknown: the free tier's 1,000, to be safe)"
        tier = "free or Lite" if limit <= 100_000 else "paid"
        return f"{tier} key ({limit:,} calls/day); pages of {client.page_size:,} rows" + (
            " (--page-size up to 10,000 on a paid key)" if client.page_size < 10_000 and limit > 100_000 else "")
    return f"pages of {client.page_size:,} rows (getLogs: 1,000)"


def check_node(source) -> list[Check]:
    """Chain id, archive state and trace_filter of the --rpc-url node."""
    checks: list[Check] = []
    try:
        head = source.head_block()  # checks eth_chainId against --chain-id and probes trace_filter
    except TracerError as exc:
        return [Check("node", False, str(exc))]
    checks.append(Check("node", True, f"{source.client.display} on chain {source.chain_id}; head block {head:,}"))
    from .sources.jsonrpc import RpcError

    old = max(head - 100_000, 0)  # far past the ~128 recent blocks a pruned node keeps state for
    try:
        source.client.call("eth_getBalance", ["0x" + "00" * 20, hex(old)])
        checks.append(Check("archive", True, f"answers for old blocks (block {old:,})"))
    except (TracerError, RpcError) as exc:
        checks.append(Check("archive", False, f"no state for old blocks ({exc}); tracing old thefts needs an "
                                              "archive node"))
    checks.append(Check("trace_filter", True, "yes: internal ETH is seen" if source.has_traces else
                        "no: native ETH by scanning blocks, internal ETH not seen (an explorer can add it)"))
    return checks
