"""How each explorer service is spoken to: one Dialect per service.

Etherscan V2, Blockscout's per-instance API and the Blockscout PRO API all
answer "the Etherscan API", but differently (see the project's notes on
explorer dialects, which cite each service's docs and source): where the
chain and the key go, how many rows an answer holds at most whatever was
asked, whether getLogs honours paging, where JSON-RPC lives (Etherscan's
`module=proxy` GETs; Blockscout has no proxy module and takes JSON-RPC by
POST, at most 5 calls a batch). A Dialect holds exactly those facts, as data,
so the client reads every service's answers the same way and never asks
"which service is this?". Answers are read by one tolerant reader
(explorer.py): an error's text is in `message` or `result`, an empty list
has a message per action, `getblocknobytime` is a string or an object.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

ETHERSCAN_V2 = "https://api.etherscan.io/v2/api"
BLOCKSCOUT = "https://eth.blockscout.com/api"
BLOCKSCOUT_PRO = "https://api.blockscout.com/v2/api"

# Row counts at which a service cuts an answer short without saying so (Etherscan's free tier since
# 2026-07-01: 1,000; everyone's window: 10,000). A page of exactly one of these, shorter than asked,
# is a capped page, never the last one.
KNOWN_CAPS = (1000, 10_000)

ETHERSCAN_KEY_URL = "https://etherscan.io/myapikey"
BLOCKSCOUT_KEY_URL = "https://dev.blockscout.com"


@dataclass(frozen=True)
class Dialect:
    name: str
    list_cap: int            # rows per account-list answer at most (the page size used unless --page-size says)
    max_page_size: int       # the most a user may ask for per page (--page-size)
    logs_paged: bool         # getLogs honours page/offset (Etherscan) or ignores them (Blockscout: 1,000 rows)
    rpc_batch: int           # 0: JSON-RPC by module=proxy GETs, one call each; n: POSTed in batches of n
    chain_param: str | None  # where the chain goes: "chainid" (Etherscan V2), "chain_id" (PRO), None
    key_env: str | None      # the environment variable holding this service's key
    default_rate: float      # calls per second without --rate
    head_by_block_module: bool  # the head block by module=block&action=eth_block_number (Blockscout)
    silent_caps: tuple[int, ...] = KNOWN_CAPS  # row counts at which it may cut an answer short without saying so

    def query(self, params: dict, chain_id: int | None, api_key: str | None) -> dict:
        """The GET parameters of one call (the key only where the service wants it)."""
        out = dict(params)
        if self.chain_param and chain_id is not None:
            out[self.chain_param] = chain_id
        if api_key and self.key_env:
            out["apikey"] = api_key
        return out

    def rpc_url(self, api_url: str, chain_id: int | None) -> str | None:
        """Where JSON-RPC is POSTed, derived from the configured API URL (None: by proxy GETs)."""
        if not self.rpc_batch:
            return None
        parts = urlsplit(api_url)
        if self.chain_param:  # PRO: https://api.blockscout.com/<chain>/json-rpc
            path = f"/{chain_id or 1}/json-rpc"
        else:  # per instance: https://eth.blockscout.com/api/eth-rpc
            path = parts.path.rstrip("/")
            path = (path[: -len("/v1")] if path.endswith("/v1") else path) + "/eth-rpc"
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


ETHERSCAN = Dialect("etherscan", list_cap=1000, max_page_size=10_000, logs_paged=True, rpc_batch=0,
                    chain_param="chainid", key_env="ETHERSCAN_API_KEY", default_rate=3.0,
                    head_by_block_module=False)
# Blockscout clamps a page to 10,000 (never fewer) whatever is asked: a shorter page is the last one.
BLOCKSCOUT_INSTANCE = Dialect("blockscout", list_cap=10_000, max_page_size=10_000, logs_paged=False, rpc_batch=5,
                              chain_param=None, key_env=None, default_rate=5.0, head_by_block_module=True,
                              silent_caps=(10_000,))
BLOCKSCOUT_PRO_API = Dialect("blockscout-pro", list_cap=10_000, max_page_size=10_000, logs_paged=False, rpc_batch=5,
                             chain_param="chain_id", key_env="BLOCKSCOUT_API_KEY", default_rate=5.0,
                             head_by_block_module=True, silent_caps=(10_000,))
DIALECTS = {d.name: d for d in (ETHERSCAN, BLOCKSCOUT_INSTANCE, BLOCKSCOUT_PRO_API)}
DIALECT_NAMES = ("auto", *DIALECTS)


def dialect_for_host(url: str) -> Dialect | None:
    """The dialect of a known service's URL; None for any other host (detected from its first answers)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "api.blockscout.com":
        return BLOCKSCOUT_PRO_API
    if host.endswith(".etherscan.io") or host == "etherscan.io":
        return ETHERSCAN
    if host.endswith(".blockscout.com") or host.startswith("blockscout."):
        return BLOCKSCOUT_INSTANCE
    return None


def keys_hint() -> str:
    return (f"get a free key: ETHERSCAN_API_KEY ({ETHERSCAN_KEY_URL}) or BLOCKSCOUT_API_KEY ({BLOCKSCOUT_KEY_URL}, "
            "the Blockscout PRO API)")
