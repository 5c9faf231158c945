"""The tracer: decides what to follow, asks the source, keeps results in the store.

Breadth-first from the seeds, hop by hop. What it follows, and why:
- forward in time only: from an address, only outflows at or after the
  block where traced value first reached it (earlier outflows were not
  stolen money);
- never poisoning: zero-value transfers, unregistered tokens (unless the
  analyst asks), counterfeit tokens, and transfers to addresses that
  imitate a real counterparty; they are kept in the store and the graph,
  flagged, and their recipients are never queried;
- contracts are endpoints (DEXes, tokens, bridges, unknown contracts),
  except contract wallets (Safe proxies, EIP-7702 accounts);
- known services and hubs (more counterparties than --max-degree) are
  endpoints too: following an exchange's hot wallet drowns the trail.

Every decision is re-derived from the store on each run, so a nightly
rerun only fetches blocks after each address's cursor and then walks the
same rules over old and new transfers alike.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future
from contextlib import nullcontext
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from . import codes
from .btc import CHANGE_FLAG, CO_SPEND_FLAG, COINJOIN_FLAG, FEE_FLAG
from .exits import decode_receipt, exit_from_memo, is_exit_venue
from .errors import QuotaError, TracerError
from .labels import SERVICE_CATEGORIES, best_label, decoder_of, known_code
from .models import COUNTERFEIT, LOOKALIKE, UNVERIFIED_TOKEN, ZERO_VALUE, Transfer
from .progress import NullProgress, Progress
from .seeds import seed_index
from .sources.base import FetchTask, Source
from .sources.pacing import urgent
from .news import News, whats_new
from .store import FLUSH_SECONDS, FLUSH_TRANSFERS, Cursor, Store
from .thorchain import looks_like_memo
from .tokens import wei_equivalent


@dataclass(frozen=True)
class TraceOptions:
    hops: int = 3
    min_value_wei: int = 0
    max_degree: int = 1000
    follow_unverified_tokens: bool = False
    reorg_margin: int = 12
    link_mixers: bool = False
    follow_mixer_links: float | None = None  # follow withdrawers of candidate links at least this confident
    mixer_window_days: float = 7.0
    follow_bridges: bool = False  # continue on other EVM chains where a bridge deposit names the receiver
    screen: bool = True  # on reruns, skip addresses whose balances show they cannot have moved


@dataclass
class HopSummary:
    hop: int
    addresses: int = 0
    followed: int = 0
    new_addresses: int = 0
    new_transfers: int = 0
    new_exits: int = 0
    mixer_links: int = 0


@dataclass
class NodeState:
    hop: int
    reach_block: int
    category: str | None = None
    followed: bool = False


@dataclass
class TraceResult:
    run_id: int
    head_block: int
    seeds: list[str]
    hops: list[HopSummary] = field(default_factory=list)
    nodes: dict[str, NodeState] = field(default_factory=dict)
    new_transfers: int = 0
    new_addresses: int = 0
    followed_addresses: int = 0
    requests: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    screened: int = 0
    unchanged: int = 0
    news: News | None = None  # what the run added, per hop, as the nightly message says it
    rejected: list[dict] = field(default_factory=list)  # malformed or out-of-range records skipped, named
    unindexed: set[str] = field(default_factory=set)  # addresses whose internal transactions were not all indexed

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "head_block": self.head_block,
            "seeds": self.seeds,
            "new_transfers": self.new_transfers,
            "new_addresses": self.new_addresses,
            "followed_addresses": self.followed_addresses,
            "reached_addresses": len(self.nodes),
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "screened": self.screened,
            "unchanged_skipped": self.unchanged,
            "seconds": round(self.seconds, 3),
            "hops": [asdict(h) for h in self.hops],
            "news": self.news.to_json() if self.news else None,
            "rejected_records": len(self.rejected),
            "not_yet_indexed": sorted(self.unindexed),
            "rejected": self.rejected[:100],
        }


_NEVER_FOLLOW = frozenset({ZERO_VALUE, COUNTERFEIT, LOOKALIKE, COINJOIN_FLAG, CO_SPEND_FLAG, FEE_FLAG})
BTC_SCREEN = "btc-txs"  # the screen's key for a Bitcoin address: its confirmed transactions' count
BTC_REORG_MARGIN = 6  # Bitcoin blocks read again each night: the customary six confirmations (--reorg-margin is
# in Ethereum's 12-second blocks; twelve Bitcoin blocks would be two hours of someone's history read twice)
BTC_CLOCK_SLACK = 7_200  # seconds a Bitcoin block's time may lag (consensus allows up to two hours either way)
MAX_PEEL_STEPS = 100  # steps along a peel chain's change counted as one hop (each costs a Bitcoin address's reads)
FEW_PROBES = 4  # early first pages of the next hop that go ahead of everything but the screen (_start_probes)


def _screen_head(screen: Screening | None, wait: bool = False) -> int:
    """The head block a screen read after its balances, if it read one and (unless `wait`) has it already;
    else -1. A first page asked up to it covers what the fetch will: no extra page for the blocks between."""
    if screen is None or not screen.reads_head or not (wait or screen.future.done()):
        return -1
    try:
        return screen.future.result()[2] or -1
    except Exception:  # noqa: BLE001 - the screen's own error is raised where its balances are used
        return -1


def _same_owner(t: Transfer) -> bool:
    """A Bitcoin output sure enough to be its sender's change (btc.change_of: medium or high confidence)."""
    return CHANGE_FLAG in t.flags and "change-low" not in t.flags


@dataclass
class Screening:
    """A balance screen being read on its own thread: which addresses and (address, token) pairs it covers,
    whether it reads the head block after them, and its future (eth, tokens, head or None)."""
    addresses: list[str]
    pairs: list[tuple[str, str]]
    reads_head: bool
    future: Future


class Tracer:
    def __init__(self, store: Store, source: Source, options: TraceOptions, progress: Progress | None = None):
        self.store = store
        self.source = source
        self.options = options
        self.progress = progress or NullProgress()
        self._seed_roles = {k: s.role for k, s in seed_index().items()}
        self._run_id: int | None = None
        self._first_screen: Screening | None = None  # hop 0's balance screen, read before the run's head (_open)
        self._early_screen: Screening | None = None  # the next hop's, started while this one drained
        self._early_probes: tuple[dict[str, int], Future] | None = None  # likewise: (reach blocks, probes)
        self._crossings: dict[str, list] = {}  # btc:<address> -> the exit rows (bridge deposits) swapped out to it
        self._unverified_reach: set[str] = set()  # crossing nodes reached from 0 only until their outbound is found
        self._btc_hubs: set[str] = set()  # Bitcoin addresses with more transactions than --max-degree: services

    # ---- edge and node rules ------------------------------------------------------------
    def follows(self, t: Transfer) -> bool:
        """Does traced value move along this transfer?"""
        if t.flags & _NEVER_FOLLOW or t.from_addr == t.to_addr:
            return False  # (a CoinJoin's outputs too: equal outputs cannot be told apart, see btc.coinjoin_kind)
        if t.memo and looks_like_memo(t.memo):
            return False  # a deposit into a THORChain vault: an exit, not a wallet
        if UNVERIFIED_TOKEN in t.flags:
            return self.options.follow_unverified_tokens
        wei = wei_equivalent(t.token, t.amount)
        if wei is not None:
            return wei >= self.options.min_value_wei
        return t.amount > 0  # no price for other assets: any non-zero amount

    def _category(self, address: str, is_seed: bool, code_kind: str | None) -> tuple[str, bool]:
        """(category, whether its history is followed)."""
        if is_seed:
            return "seed", True
        label = self._label(address)
        if label and label.category in SERVICE_CATEGORIES:
            return label.category, False
        if code_kind == codes.CONTRACT:
            return "contract", False
        if code_kind == codes.WALLET_CONTRACT:
            return "wallet-contract", True
        if self._seed_roles.get(address) == "theft":
            return "theft", True
        return ("eoa" if code_kind == codes.EOA else "unknown"), True

    # ---- the run --------------------------------------------------------------------------
    def run(self, seeds: list[str], params: dict | None = None) -> TraceResult:
        started = time.monotonic()
        run_id = self.store.start_run(params or {})
        self._run_id = run_id
        result = TraceResult(run_id=run_id, head_block=-1, seeds=list(seeds))
        try:
            result.head_block = self._open(seeds)
            dialect = getattr(self.source, "dialect_name", None)
            if dialect and params is not None:  # known only now: from the host, or the explorer's first answer
                self.store.set_run_params(run_id, {**params, "explorer_dialect": dialect})
            self._walk(seeds, result)
            result.news = whats_new(self.store, run_id, hops={a: n.hop for a, n in result.nodes.items()},
                                    follow_unverified=self.options.follow_unverified_tokens)
            by_hop = {h.hop: h for h in result.news.hops}
            for h in result.hops:
                if h.hop in by_hop:
                    h.new_transfers, h.new_addresses = by_hop[h.hop].new_transfers, by_hop[h.hop].new_addresses
            result.new_transfers = result.news.new_transfers
            result.new_addresses = result.news.new_addresses
            result.requests = self.source.requests
            result.rate_limited = self.source.rate_limited
            result.seconds = time.monotonic() - started
            result.rejected = self._rejected()
            self._book_usage()
            self.store.finish_run(
                run_id, "ok", head_block=result.head_block, requests=result.requests,
                new_transfers=result.new_transfers, new_addresses=result.new_addresses,
                followed_addresses=result.followed_addresses, **self._rejected_columns(result.rejected),
            )
            return result
        except BaseException as exc:
            message = str(exc) if isinstance(exc, TracerError) else type(exc).__name__
            try:
                self._book_usage()
                self.store.finish_run(run_id, "failed", requests=self.source.requests, error=message[:500],
                                      **self._rejected_columns(self._rejected()))
            except Exception:
                pass
            raise
        finally:
            self.progress.finish()

    def _book_usage(self) -> None:
        """Today's requests per service: a daily quota is one service's (Etherscan's key, not Esplora's host)."""
        usage = getattr(self.source, "usage", None)
        for service, requests in (usage() if usage else {self.source.name: self.source.requests}).items():
            self.store.add_usage(service, requests)

    def _open(self, seeds: list[str]) -> int:
        """The run's head block. Where hop 0's balances are screened (explorers), they are read first and the
        head right after them: one read serves the run and hop 0's fetch, and no round trip is spent before
        the screen (seeds are not probed: they are followed whatever their code)."""
        self._first_screen = None
        if getattr(self.source, "dialect_name", None) == "auto":
            return self.source.head_block()  # an unknown host: telling its dialect reads the head anyway, first
        if self.options.hops > 0:
            screen = self._start_screen(list(dict.fromkeys(seeds)), set(seeds), head=True)
            if screen is not None:
                head = screen.future.result()[2]
                if head is not None:
                    self._first_screen = screen
                    return head
        return self.source.head_block()

    def _take_incomplete(self, address: str) -> set[str]:
        take = getattr(self.source, "take_incomplete", None)
        return take(address) if take else set()

    def _rejected(self) -> list[dict]:
        """Records the source skipped as malformed or out of range (see records.RejectedRecord)."""
        return [asdict(r) for r in list(getattr(self.source, "rejected", ()))]

    @staticmethod
    def _rejected_columns(rejected: list[dict]) -> dict:
        if not rejected:
            return {"rejected": 0}
        return {"rejected": len(rejected), "rejected_detail": json.dumps(rejected[:100], ensure_ascii=True)}

    def _walk(self, seeds: list[str], result: TraceResult) -> None:
        nodes: dict[str, NodeState] = {s: NodeState(hop=0, reach_block=0) for s in seeds}
        seed_set = set(seeds)
        labelled_endpoints: set[str] = set()
        level = list(dict.fromkeys(seeds))
        for hop in range(self.options.hops + 1):
            if not level:
                break
            summary = HopSummary(hop=hop)
            result.hops.append(summary)
            next_level: dict[str, int] = {}
            rounds = 0
            while level:  # one round, and one more per step along a peel chain's change (same owner, same hop)
                same_hop = self._visit(level, hop, nodes, seed_set, labelled_endpoints, result, summary, next_level)
                rounds += 1
                level = []
                for address, reach in same_hop.items():
                    if rounds > MAX_PEEL_STEPS:  # a very long chain goes on as ordinary hops: nothing is lost
                        next_level[address] = min(reach, next_level.get(address, reach))
                    else:
                        next_level.pop(address, None)
                        nodes[address] = NodeState(hop=hop, reach_block=reach)
                        level.append(address)
            for address, reach in next_level.items():
                nodes[address] = NodeState(hop=hop + 1, reach_block=reach)
            level = list(next_level)
        result.nodes = nodes
        self.store.set_trace_state(
            {a: (n.hop, n.reach_block, n.category, n.followed) for a, n in nodes.items()}, result.run_id,
            labelled_endpoints,
        )

    def _visit(self, level: list[str], hop: int, nodes: dict[str, NodeState], seed_set: set[str],
               labelled_endpoints: set[str], result: TraceResult, summary: HopSummary,
               next_level: dict[str, int]) -> dict[str, int]:
        """Follow one level's addresses: fetch, decode, and add whom they paid to `next_level` (address -> the
        block traced value reached it). Returns the Bitcoin addresses reached along a sure change output (a peel
        chain's next step): the same owner, followed at this hop."""
        summary.addresses += len(level)
        last = hop == self.options.hops
        # the screen's requests overlap the probes'
        screen = None if last else self._first_screen or self._start_screen(level, seed_set)
        self._first_screen = None
        probes = {} if last else self._probe(level, nodes, seed_set, result.head_block, hop, screen)
        self._early_screen = self._early_probes = None  # (what the hop before started is used, or stale)
        if self._probing:  # only busy addresses that never sent a transaction need their code now
            self._ensure_codes([a for a, p in probes.items() if not p.sent and p.next_start is not None], hop)
            code_kinds = self.store.code_kinds(level)
        else:
            code_kinds = self._ensure_codes(level, hop)
        to_follow: list[str] = []
        for address in level:
            node = nodes[address]
            node.category, followable = self._category(address, address in seed_set, code_kinds.get(address))
            if not followable and node.category in SERVICE_CATEGORIES:
                labelled_endpoints.add(address)  # whatever an earlier run (before the label) decided
            if followable and not last:
                to_follow.append(address)
        try:
            self._fetch_histories(to_follow, nodes, result.head_block, hop, probes, result, screen)
        except QuotaError:  # a budget or a day's quota: the next run goes on from what this one paid for
            self._keep_early_probes(result.head_block)
            raise
        to_follow = self._settle_unknown_codes(to_follow, nodes, seed_set, hop)
        summary.new_exits += self._decode_exits(to_follow, nodes)
        via_mixer = self._mixer_candidates(to_follow, result.head_block, summary)
        via_mixer.update(self._bridge_receivers(to_follow, nodes))
        self._verify_crossings(to_follow, nodes)
        via_mixer.update(self._btc_receivers(to_follow, nodes))
        summary.followed += len(to_follow)
        result.followed_addresses += len(to_follow)
        same_hop: dict[str, int] = {}
        for address in to_follow:
            node = nodes[address]
            node.followed = address not in self._btc_hubs  # (a Bitcoin hub's history was never read: an endpoint)
            if address not in seed_set and (address in self._btc_hubs
                                            or self.store.counterparties(address) > self.options.max_degree):
                node.category = "service"  # a hub: an exchange or other service, not a wallet
                continue
            spent = (self.store.btc_spends if address.startswith("btc:") else self.store.outflows)
            for t in spent(address, since_block=node.reach_block):
                if not self.follows(t):
                    continue
                recipient = t.to_addr
                if recipient in nodes:
                    continue
                found = same_hop if _same_owner(t) else next_level
                if recipient not in found or t.block < found[recipient]:
                    found[recipient] = t.block
        for address, reach in via_mixer.items():
            if address not in nodes and (address not in next_level or reach < next_level[address]):
                next_level[address] = reach
        return same_hop

    # ---- fetching ---------------------------------------------------------------------------
    @property
    def _probing(self) -> bool:
        """Sources that answer one address per call (explorers) learn code kinds from a first page."""
        return hasattr(self.source, "probes")

    def _probe(self, level: list[str], nodes: dict[str, NodeState], seeds: set[str], head: int,
               hop: int, screen: Screening | None = None) -> dict[str, object]:
        """First txlist page of each new candidate; an address seen sending a transaction is an
        account (no eth_getCode needed). See ExplorerClient.probe."""
        if not self._probing:
            return {}
        todo = self._to_probe(level, seeds)
        early, self._early_probes = self._early_probes, None
        if not todo:
            return {}
        self.progress.start_stage(f"hop {hop}: first pages", len(todo))
        probes = {}
        if early is not None:  # read while the hop before drained: good where the reach block is still the same
            reaches, future = early
            wanted = set(todo)
            probes = {a: p for a, p in future.result().items()
                      if a in wanted and reaches.get(a) == nodes[a].reach_block}
            self.progress.advance(len(probes))
        try:
            head = max(head, _screen_head(screen))  # pages up to the head the fetch runs to need no gap read
            for probe in self.source.probes([(a, nodes[a].reach_block, head) for a in todo if a not in probes]):
                probes[probe.address] = probe
                self.progress.advance()
                self.progress.set_requests(self.source.requests)
        except QuotaError:
            # the run stops here (a daily quota, --max-requests): keep the first pages read, as far as they go, so
            # that the next run goes on from them instead of paying for them again. A failing explorer leaves the
            # store as it was: its answers so far are not trusted more than the one that broke
            self._keep_probes(probes, {a: nodes[a].reach_block for a in probes}, head)
            raise
        accounts = {a: codes.EOA for a, p in probes.items() if p.sent}
        if accounts:
            self.store.set_code(accounts)
        return probes

    def _to_probe(self, level: list[str], seeds: set[str]) -> list[str]:
        """Addresses whose first page is read before deciding whether to fetch them: never fetched, code
        unknown, not a seed (followed whatever its code) nor a labelled service (never followed)."""
        known = self.store.code_kinds(level)
        return [a for a in level if ":" not in a and known[a] is None and self.store.cursor(a, "txlist") is None
                and a not in seeds and not self._service_label(a)]  # (other chains' nodes: not the explorer's)

    def _start_probes(self, reaches: dict[str, int], head: int,
                      screen: Screening | None) -> tuple[dict[str, int], Future] | None:
        """First pages of the next hop's likely addresses, read while this hop's last answers are on their
        way (see _fetch_histories); _probe uses those whose reach block has not changed since."""
        todo = self._to_probe(sorted(reaches), set())
        if not todo:
            return None
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="probes")
        def read() -> dict:
            # a few pages, the next hop's whole first stage, go before this hop's last ones; many would only push
            # the next hop's screen (urgent too) and its head block back
            got = {}
            end = head if screen is None else max(head, _screen_head(screen, wait=True))  # (see _probe)
            with urgent() if len(todo) <= FEW_PROBES else nullcontext():
                try:
                    for probe in self.source.probes([(a, reaches[a], end) for a in todo]):
                        got[probe.address] = probe
                except TracerError:
                    pass  # what came is used; the rest is asked again, where a failure stops the run as usual
            return got

        future = pool.submit(read)
        pool.shutdown(wait=False)
        return dict(reaches), future

    def _keep_early_probes(self, head: int) -> None:
        """The run stopped while the next hop's first pages were being read early: keep those that came (a
        reach block found later than theirs is fetched next time, below their cursor)."""
        early, self._early_probes = self._early_probes, None
        if early is None:
            return
        reaches, future = early
        try:
            probes = future.result(timeout=1.0)  # a stop by a budget or quota stops these at once too
        except Exception:  # noqa: BLE001 - still under way (a dead server, retrying): nothing to keep
            return
        self._keep_probes(probes, reaches, head)

    def _keep_probes(self, probes: dict, reaches: dict[str, int], head: int) -> None:
        """First txlist pages of a run that stops before fetching the rest: stored with a txlist cursor up to
        the blocks they hold whole (the other lists, having no cursor, are read in full next time)."""
        if not probes:
            return
        accounts = {a: codes.EOA for a, p in probes.items() if p.sent}
        if accounts:
            self.store.set_code(accounts)
        fetched = []
        for address, probe in probes.items():
            reach = reaches[address]
            end = (probe.end if probe.end >= 0 else head) if probe.next_start is None else probe.next_start - 1
            fetched.append((address, list({t.key: t for t in probe.transfers}.values()), {"txlist": Cursor(reach, end)}))
        self.store.commit_fetches(fetched, self.source.name, self._run_id)

    def _settle_unknown_codes(self, followed: list[str], nodes: dict[str, NodeState], seeds: set[str],
                              hop: int) -> list[str]:
        """An address of unknown code that turns out to move value out: is it a wallet or a contract?

        Quiet addresses that never sent a transaction were fetched without eth_getCode; only those
        whose lists show value leaving need the answer (a contract's outflows are not a trail).
        """
        unknown = [a for a, kind in self.store.code_kinds(followed).items() if kind is None]
        moving = []
        senders: dict[str, str] = {}
        for a in unknown:
            outs = self.store.outflows(a, since_block=nodes[a].reach_block)
            if any(t.kind == "native" for t in outs):
                senders[a] = codes.EOA  # it sent a transaction itself: an account, no call needed
            elif a not in seeds and any(self.follows(t) for t in outs):
                moving.append(a)  # (a seed is followed whatever its code)
        if senders:
            self.store.set_code(senders)
        if not moving:
            return followed
        kinds = self._ensure_codes(moving, hop)
        keep = []
        for address in followed:
            if address in moving:
                node = nodes[address]
                node.category, followable = self._category(address, False, kinds.get(address))
                if not followable:
                    self.store.unfollow(address)
                    continue
            keep.append(address)
        return keep

    def _label(self, address: str):
        """Curated label, else the best imported one (see labels.best_label)."""
        return best_label(address, [tuple(r) for r in self.store.imported_labels(address)])

    def _service_label(self, address: str) -> bool:
        label = self._label(address)
        return bool(label and label.category in SERVICE_CATEGORIES)

    def _ensure_codes(self, addresses: list[str], hop: int) -> dict[str, str | None]:
        """Code kinds of these addresses, asking the source for those not known yet.

        A node answers a whole level in one batch. With an explorer (one call per address) the
        tracer asks only where the answer changes what it follows (see _probe and
        _settle_unknown_codes); other addresses keep the flag code-unchecked.
        """
        known = self.store.code_kinds(addresses)
        curated = {a: code for a in addresses if known[a] is None and (code := known_code(a))}
        if curated:  # the curator knows it holds code (or not): no request
            self.store.set_code(curated)
            known.update(curated)
        missing = [a for a, kind in known.items() if kind is None]
        if missing:
            self.progress.start_stage(f"hop {hop}: checking code", len(missing))
            found: dict[str, str] = {}
            try:
                for address, code in self.source.codes(missing):
                    found[address] = codes.classify_code(code)
                    self.progress.advance()
                    self.progress.set_requests(self.source.requests)
            finally:
                if found:
                    self.store.set_code(found)
            known.update(found)
        return known

    def _plan(self, address: str, reach: int, head: int, probe=None) -> tuple[list[FetchTask], dict[str, Cursor]]:
        """Which block ranges of which histories to fetch, and the cursors once they are stored."""
        tasks: list[FetchTask] = []
        cursors: dict[str, Cursor] = {}
        if probe is not None:
            # The first txlist page is in hand; the rest of the lists as usual. The page was asked up to the head
            # known then: blocks after it, up to the head the fetch runs to (read after the screen), are read too
            if probe.next_start is not None:
                tasks.append(FetchTask(address, "txlist", probe.next_start, head))
            elif probe.end < head:
                tasks.append(FetchTask(address, "txlist", probe.end + 1, head))
            cursors["txlist"] = Cursor(reach, head)
            for action in self.source.actions:
                if action != "txlist":
                    tasks.append(FetchTask(address, action, reach, head))
                    cursors[action] = Cursor(reach, head)
            return tasks, cursors
        actions = self._actions(address)
        if hasattr(self.source, "head_for"):
            head = self.source.head_for(address) or head
        for action in actions:
            cur = self.store.cursor(address, action)
            if cur is None:
                tasks.append(FetchTask(address, action, reach, head))
                cursors[action] = Cursor(reach, head)
                continue
            if reach < cur.scanned_from:
                tasks.append(FetchTask(address, action, reach, cur.scanned_from - 1))
            margin = BTC_REORG_MARGIN if address.startswith("btc:") else self.options.reorg_margin
            start = max(cur.scanned_from, cur.scanned_to - margin + 1)
            if start <= head:
                tasks.append(FetchTask(address, action, start, head))
            cursors[action] = Cursor(min(reach, cur.scanned_from), max(head, cur.scanned_to))
        return tasks, cursors

    def _fetch_histories(self, addresses: list[str], nodes: dict[str, NodeState], head: int, hop: int,
                         probes: dict | None = None, result: TraceResult | None = None, screen=None) -> None:
        """Fetch every address's new blocks; store each address atomically as soon as it is complete."""
        if not addresses:
            if screen is not None:
                screen.future.result()  # nothing to fetch after all: still, its requests end here, and its errors show
            return
        snapshot, unchanged, head = self._screen(addresses, head, probes or {}, result, screen)
        self.progress.start_stage(f"hop {hop}: fetching histories", len(addresses))
        pending: dict[str, int] = {}
        collected: dict[str, list[Transfer]] = defaultdict(list)
        cursors: dict[str, dict[str, Cursor]] = {}
        all_tasks: list[FetchTask] = []
        probes = probes or {}

        batch: list[tuple[str, list[Transfer], dict[str, Cursor]]] = []
        batch_size = 0
        last_flush = time.monotonic()

        unsettled: set[str] = set()  # fetched only in part: no balance screen may vouch for them
        # the next hop's likely addresses, from the outflows of those complete so far: screened while this hop's
        # last answers are on their way (a round trip the pacer would leave unused), if a next hop screens at all
        all_sent = getattr(self.source, "all_sent", None)
        early = all_sent is not None and hop + 1 < self.options.hops and self._probing
        candidates: dict[str, int] = {}  # address: the earliest block traced value reached it, so far
        run_head = head

        def flush() -> None:
            nonlocal batch, batch_size, last_flush
            if batch:
                # the balance screen is saved with the fetch it vouches for, never before it; and never for an
                # address whose fetch is unfinished (its screen must not let the next run skip it)
                balances = {k: v for a, _, _ in batch if a not in unsettled for k, v in snapshot.get(a, {}).items()}
                self.store.commit_fetches(batch, self.source.name, self._run_id, balances, head,
                                          forget=[a for a, _, _ in batch if a in unsettled])
                self.progress.advance(len(batch))
            batch, batch_size, last_flush = [], 0, time.monotonic()

        def commit(address: str) -> None:
            """Complete: into the next transaction. Flushed every half second (or 100,000 transfers),
            so a run killed at any moment loses at most the last half second's addresses."""
            nonlocal batch_size
            for action in self._take_incomplete(address):
                # the service had not indexed all of these blocks yet (Blockscout's status "2"): keep what came,
                # but leave the cursor where it was, so the next run asks for these blocks again
                unsettled.add(address)
                reach = nodes[address].reach_block
                cursors[address][action] = self.store.cursor(address, action) or Cursor(reach, reach - 1)
                if result is not None:
                    result.unindexed.add(address)
            items = list({t.key: t for t in collected.pop(address, [])}.values())
            if early and self._few_counterparties(address, items):  # a hub's recipients are no next hop
                reach = nodes[address].reach_block
                for t in items:
                    if t.from_addr == address and t.block >= reach and t.to_addr not in nodes and self.follows(t):
                        candidates[t.to_addr] = min(t.block, candidates.get(t.to_addr, t.block))
            batch.append((address, items, cursors[address]))
            batch_size += len(items)
            if batch_size >= FLUSH_TRANSFERS or time.monotonic() - last_flush >= FLUSH_SECONDS:
                flush()
        for address in addresses:
            if address in unchanged:
                self.progress.advance()
                continue
            count = snapshot.get(address, {}).get((address, BTC_SCREEN))
            if count is not None and nodes[address].hop > 0 and count > self.options.max_degree:
                # thousands of transactions: a service's address (an exchange's, a payment processor's), never
                # paged (at 700 requests/hour its history could take days); an endpoint, as a hub is on Ethereum
                self._btc_hubs.add(address)
                self.progress.advance()
                continue
            probe = probes.get(address)
            tasks, cursors[address] = self._plan(address, nodes[address].reach_block, head, probe)
            if probe is not None:
                collected[address].extend(probe.transfers)
            pending[address] = len(tasks)
            all_tasks.extend(tasks)
            if not tasks:
                commit(address)
        try:
            for task, transfers in self.source.fetch(all_tasks):
                collected[task.address].extend(transfers)
                pending[task.address] -= 1
                self.progress.set_requests(self.source.requests)
                if pending[task.address] == 0:
                    commit(task.address)
                if early and candidates and all_sent():
                    early = False
                    flush()  # the screen reads held tokens from the store
                    self._early_screen = self._start_screen(sorted(candidates), set())
                    self._early_probes = self._start_probes(candidates, run_head, self._early_screen)
        finally:
            flush()  # what is complete is kept, even when the source fails part-way

    def _screened(self, address: str) -> bool:
        """Screened by balance before a rerun fetches it: this chain's addresses, and Bitcoin's by their count of
        transactions; not other EVM chains' (each night reads their new blocks)."""
        return ":" not in address or address.startswith("btc:") and hasattr(self.source, "esplora")

    def _actions(self, address: str) -> tuple[str, ...]:
        """The histories kept for `address` (another chain's, or Bitcoin's, may differ from this chain's)."""
        return self.source.actions_for(address) if hasattr(self.source, "actions_for") else self.source.actions

    def _screen_home(self, level: list[str], seeds: set[str]) -> tuple[list[str], list[tuple[str, str]]]:
        """Which of a level's addresses (and held tokens) a screen reads: every one that may be followed (a few
        more than will be: contracts found by the probes are not)."""
        home = [a for a in level if self._screened(a) and (a in seeds or not self._service_label(a))]
        return home, [(a, t) for a in home for t in self.store.held_tokens(a)]  # the store is read here, not there

    def _few_counterparties(self, address: str, items: list[Transfer]) -> bool:
        """Not a hub, as far as can be told before this fetch is stored: what the store held before plus what
        came now (counted twice where both hold one: it errs toward calling it a hub, which only skips the early
        reads, never a decision)."""
        new = {t.to_addr if t.from_addr == address else t.from_addr for t in items if not t.flags}
        return self.store.counterparties(address) + len(new) <= self.options.max_degree

    def _start_screen(self, level: list[str], seeds: set[str], head: bool = False) -> Screening | None:
        """Start reading a hop's balances beside its probes (explorers): both are needed, neither needs the
        other, and on a rate-limited API with slow answers every stage that waits for the last answer of
        the one before costs a round trip. A screen started while the hop before drained (see
        _fetch_histories) is used for the addresses it covers."""
        if not (self._probing and self.options.screen and hasattr(self.source, "balances")):
            return None
        early, self._early_screen = self._early_screen, None
        home, pairs = self._screen_home(level, seeds)
        if early is not None:
            covered = set(early.addresses)
            read = set(early.pairs)
            home_left = [a for a in home if a not in covered]
            pairs_left = [p for p in pairs if p not in read]
            if not home_left and not pairs_left:
                return early
            return self._read_screen(home_left, pairs_left, early.reads_head or self._fresh(home_left), early)
        if not home:
            return None
        return self._read_screen(home, pairs, head or self._fresh(home))

    def _fresh(self, addresses: list[str]) -> bool:
        """An address never fetched will be (unless its probe finds a contract): the head the fetch runs to is
        then read right after the screen, in its thread, instead of after the slower probes."""
        kinds = self.store.code_kinds(addresses)
        return any(kinds[a] != codes.CONTRACT and self.store.cursor(a, self.source.actions[0]) is None
                   for a in addresses)

    def _read_screen(self, home: list[str], pairs: list[tuple[str, str]], head: bool,
                     before: Screening | None = None) -> Screening:
        """Balances of `home` and `pairs`, then (if `head`) the head block, on a thread of their own, urgently
        (the hop waits for these few calls: not behind the probes' pages). `before`: an earlier screen whose
        answers are merged in; it is awaited first, so that the head is read after both."""
        def read() -> tuple[dict, dict, int | None]:
            eth: dict[str, int] = {}
            tokens: dict[tuple[str, str], int] = {}
            if before is not None:
                eth, tokens, _ = before.future.result()
                eth, tokens = dict(eth), dict(tokens)
            with urgent():
                # ETH and token balances side by side (neither needs the other), then the head after both
                token_reading = None
                if pairs:
                    token_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screen-tokens")

                    def read_tokens() -> dict:
                        with urgent():
                            return self.source.token_balances(pairs)

                    token_reading = token_pool.submit(read_tokens)
                    token_pool.shutdown(wait=False)
                try:
                    if home:
                        eth.update(self.source.balances(home))
                finally:
                    if token_reading is not None:
                        tokens.update(token_reading.result())  # (waited for even when the balances failed)
                return eth, tokens, (self.source.head_block() if head else None)

        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screen")
        future = pool.submit(read)
        pool.shutdown(wait=False)
        covered = list(before.addresses) + home if before else home
        read_pairs = list(before.pairs) + pairs if before else pairs
        return Screening(covered, read_pairs, head, future)

    def _screen(self, addresses: list[str], head: int, probes: dict,
                result: TraceResult | None, reading=None) -> tuple[dict, set[str], int]:
        """Balances of the addresses about to be fetched: which cannot have moved since last time?

        An account that sends anything pays gas, so its ETH balance changes; tokens moved by an
        approved spender cost the owner nothing, so every token an address may still hold (it
        received more than it sent) is checked too. An address whose balances all equal the last
        screen is skipped. The screen is read *before* the head block the fetch runs to: whatever
        moves after it shows up as a change next time, whatever moved before it is fetched now.
        Returns (snapshot per address, unchanged addresses, head block to fetch up to).
        """
        if not self.options.screen or not hasattr(self.source, "balances"):
            return {}, set(), head
        home = [a for a in addresses if self._screened(a)]
        if not home:
            return {}, set(), head
        self.progress.start_stage("screening balances", len(home))
        read_head = None  # the head read after the screen, when it was started beside the probes
        if reading is not None:  # started beside the probes (see _start_screen)
            eth, tokens, read_head = reading.future.result()
            wanted = set(home)
            tokens = {(a, t): v for (a, t), v in tokens.items() if a in wanted}
        else:
            eth = self.source.balances(home)
            pairs = [(a, t) for a in home for t in self.store.held_tokens(a)]
            tokens = self.source.token_balances(pairs) if pairs else {}
        self.progress.set_requests(self.source.requests)
        stored = self.store.balances()
        snapshot: dict[str, dict[tuple[str, str], int]] = {}
        for a in home:
            if a not in eth:
                continue
            # (a Bitcoin address's "balance" is its count of confirmed transactions: see BitcoinSource.balances)
            snapshot[a] = {(a, BTC_SCREEN if a.startswith("btc:") else "ETH"): eth[a],
                           **{(x, t): v for (x, t), v in tokens.items() if x == a}}
        unchanged = {
            a for a, snap in snapshot.items()
            if a not in probes and self.store.cursor(a, self._actions(a)[0]) is not None
            and all(stored.get(k) == v for k, v in snap.items())
        }
        if len(unchanged) < len(addresses):  # something will be fetched: up to a head read after the screen
            head = max(head, read_head if read_head is not None else self.source.head_block())
        if result is not None:
            result.screened += len(snapshot)
            result.unchanged += len(unchanged)
        return snapshot, unchanged, head

    def _decode_exits(self, addresses: list[str], nodes: dict[str, NodeState]) -> int:
        """Read the deposit transactions into bridges and mixers: where did the funds go?"""
        by_tx: dict[str, Transfer] = {}
        memo_exits = []
        for address in addresses:
            for t in self.store.outflows(address, since_block=nodes[address].reach_block):
                if t.is_poison:
                    continue
                if is_exit_venue(t.to_addr) or self._is_exit_service(t.to_addr):
                    by_tx.setdefault(t.tx_hash, t)
                elif t.memo and looks_like_memo(t.memo):
                    memo_exits.append(t)
        todo = self.store.undecoded(list(by_tx) + [t.tx_hash for t in memo_exits])
        if not todo:
            return 0
        exits = [exit_from_memo(t.tx_hash, t.to_addr, t.from_addr, t.block, t.timestamp, t.amount, t.memo)
                 for t in memo_exits if t.tx_hash in todo]
        receipt_txs = [h for h in todo if h in by_tx]
        if receipt_txs:
            self.progress.start_stage("reading bridge and mixer deposits", len(receipt_txs))
            for h, receipt in self.source.receipts(receipt_txs):
                if receipt:
                    t = by_tx[h]
                    found, _bad = decode_receipt(receipt, t.block, t.timestamp)
                    exits.extend(found)
                self.progress.advance()
                self.progress.set_requests(self.source.requests)
        self._vault_evidence(exits)
        return self.store.save_exits(exits, todo)

    def _vault_evidence(self, exits: list) -> None:
        """A plain ETH transfer carrying a THORChain memo is an exit only if its receiver is THORChain's: Asgard
        vaults rotate at every churn, so no list is ever current. The evidence at hand: the vault named in a
        router Deposit (its `to`) decoded here or before, or the receiver forwarding to a router itself.
        Without either the exit stays, flagged vault-unconfirmed (a look-alike memo to anyone is possible)."""
        memo_exits = [e for e in exits if e.log_index < 0]
        if not memo_exits:
            return
        named = {e.venue: e.tx_hash for e in exits if e.log_index >= 0 and e.protocol == "thorchain"}
        for row in self.store.exit_rows():
            if row["log_index"] >= 0 and row["protocol"] == "thorchain":
                named.setdefault(row["venue"], row["tx_hash"])
        for e in memo_exits:
            if e.venue in named:
                e.detail["vault"] = f"named as the vault of router deposit {named[e.venue]}"
                continue
            forward = next((t for t in self.store.outflows(e.venue) if decoder_of(t.to_addr) == "thorchain-router"),
                           None)
            if forward is not None:
                e.detail["vault"] = f"forwards to THORChain router {forward.to_addr} in {forward.tx_hash}"
            else:
                e.detail["vault"] = "unconfirmed: the memo only (not named in any decoded router deposit)"
                e.flags.add("vault-unconfirmed")

    def _mixer_candidates(self, addresses: list[str], head: int, summary: HopSummary) -> dict[str, int]:
        """Candidate withdrawals of this hop's Tornado deposits; their withdrawers if asked to follow."""
        if not self.options.link_mixers:
            return {}
        from .linking import link_mixers

        links = link_mixers(self.store, self.source, head, self.options.mixer_window_days, set(addresses))
        summary.mixer_links += len(links)
        minimum = self.options.follow_mixer_links
        if minimum is None:
            return {}
        out: dict[str, int] = {}
        for link in links:
            if link.confidence >= minimum:
                w = link.withdrawal
                out[w.to] = min(out.get(w.to, w.block), w.block)
        return out

    def _bridge_receivers(self, addresses: list[str], nodes: dict[str, NodeState]) -> dict[str, int]:
        """With --follow-bridges: receivers of this hop's bridge deposits on other EVM chains, as
        "<chain>:<address>" nodes, reached from the first block there after the deposit."""
        if not self.options.follow_bridges or not hasattr(self.source, "block_at"):
            return {}
        from .chains import is_evm_destination

        wanted = set(addresses)
        out: dict[str, int] = {}
        for r in self.store.exit_rows():
            if r["depositor"] in wanted and is_evm_destination(r["dest_chain"], r["dest_address"]):
                node = f"{r['dest_chain']}:{r['dest_address'].lower()}"
                if node not in nodes and node not in out:
                    out[node] = self.source.block_at(r["dest_chain"], r["timestamp"])
        return out

    def _btc_receivers(self, addresses: list[str], nodes: dict[str, NodeState]) -> dict[str, int]:
        """With --follow-btc: the Bitcoin addresses this hop's bridge deposits were swapped out to, as btc:<address>
        nodes. Where an earlier run verified the crossing, from the outbound's block; else from the start of the
        address's history, until the outbound is found (_verify_crossings)."""
        if not hasattr(self.source, "esplora"):
            return {}
        from .btc import node_for

        wanted = set(addresses)
        out: dict[str, int] = {}
        for r in self.store.exit_rows():
            if r["depositor"] not in wanted or r["dest_chain"] != "btc":
                continue
            node = node_for(r["dest_address"])
            if node is None:
                continue
            self._crossings.setdefault(node, []).append(r)
            outbound = json.loads(r["detail"] or "{}").get("btc_outbound_height")
            reach = int(outbound) if isinstance(outbound, int) else 0
            if node not in nodes and (node not in out or reach < out[node]):
                out[node] = reach
        for node, reach in out.items():
            if reach == 0:  # from the whole history until the outbound is found (_verify_crossings)
                self._unverified_reach.add(node)
        return out

    def _verify_crossings(self, addresses: list[str], nodes: dict[str, NodeState]) -> None:
        """A THORChain outbound to a followed Bitcoin address whose OP_RETURN names the Ethereum deposit
        (`OUT:<hash>`), mined after it, proves the crossing: the bridge edge is marked verified, and the Bitcoin
        leg starts at the earliest such outbound (a large swap is paid out in parts), not at the address's whole
        history. Read from the store (the memo is kept with the outbound's edges), so a run that stopped before
        this step verifies it the next time."""
        for node in (a for a in addresses if a in self._crossings):
            outbounds = self.store.btc_outbounds(node)
            earliest = None
            for r in self._crossings[node]:
                if r["protocol"] != "thorchain":
                    continue
                found = [(block, txid) for txid, block, when, inbound in outbounds  # (block times may run 2 h slow)
                         if inbound == r["tx_hash"] and when >= int(r["timestamp"]) - BTC_CLOCK_SLACK]
                if found:
                    block, txid = min(found)
                    self.store.verify_exit(r["tx_hash"], r["log_index"], r["protocol"], txid, block)
                    earliest = block if earliest is None else min(earliest, block)
            if earliest is not None and node in self._unverified_reach:  # (never raise a reach another path set)
                nodes[node].reach_block = earliest

    def _is_exit_service(self, address: str) -> bool:
        label = self._label(address)
        return bool(label and label.category in ("bridge", "mixer"))

