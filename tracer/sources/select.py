"""Which source a trace uses: --source auto|rpc|explorer with what is configured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import InputError
from .combined import CombinedSource
from .explorer import ExplorerClient, choose_endpoint
from .jsonrpc import JsonRpcClient
from .node import NodeSource
from .urls import validate_url


@dataclass
class SourceSettings:
    mode: str = "auto"  # auto | rpc | explorer
    rpc_url: str | None = None
    explorer_url: str | None = None
    api_key: str | None = None
    chain_id: int = 1
    rate: float | None = None  # explorer calls/s
    rpc_rate: float = 25.0
    timeout: float = 30.0
    retries: int = 5
    page_size: int | None = None  # None: the dialect's own page (Etherscan 1,000: its free tier's cap)
    blockscout_key: str | None = None  # BLOCKSCOUT_API_KEY: the Blockscout PRO API
    dialect: str | None = None  # --explorer-dialect; None/"auto": from the host, else the first answer
    max_requests: int | None = None  # --max-requests: explorer requests this run may send
    chunk_size: int = 500
    batch_size: int = 100


def make_source(s: SourceSettings, warn: Callable[[str], None]):
    # Checked before any client exists, so a bad URL costs no request. A URL set
    # but empty is an error, not "not given": the fallback is a public explorer.
    if s.rpc_url is not None:
        validate_url(s.rpc_url, "--rpc-url")
    if s.explorer_url is not None:
        validate_url(s.explorer_url, "--explorer-url")

    def explorer() -> ExplorerClient:
        endpoint = choose_endpoint(s.api_key, s.explorer_url, s.chain_id, s.dialect, s.blockscout_key)
        key = s.blockscout_key if endpoint.dialect == "blockscout-pro" else s.api_key
        return ExplorerClient(endpoint, api_key=key, rate=s.rate, timeout=s.timeout, retries=s.retries,
                              page_size=s.page_size, max_requests=s.max_requests)

    def node() -> NodeSource:
        client = JsonRpcClient(s.rpc_url, rate=s.rpc_rate, timeout=s.timeout, retries=s.retries,
                               batch_size=s.batch_size)
        return NodeSource(client, chain_id=s.chain_id, chunk_size=s.chunk_size, warn=warn)

    if s.mode == "explorer":
        return explorer()
    if s.mode == "rpc":
        if not s.rpc_url:
            raise InputError("--source rpc needs --rpc-url (or TRACER_RPC_URL)")
        return node()
    if s.rpc_url:
        explorer_configured = bool(s.explorer_url or s.api_key)
        return CombinedSource(node(), explorer()) if explorer_configured else node()
    return explorer()
