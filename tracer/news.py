"""What one run added to the case: the morning message of a nightly trace.

A nightly rerun is read by someone who wants to know, in a few lines, whether
stolen funds moved: per hop, the transfers and addresses that are new and how
much value they moved; the exits (exchanges, bridges, mixers, decoded bridge
deposits) reached for the first time; and the funds that had sat still for a
while (dormant) and moved again. Everything is computed from the store, so
the trace command, `tracer report` and the Markdown summary say the same.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

from .btc import CO_SPEND, FEE
from .labels import SERVICE_CATEGORIES, current_category, display_label, on_trail
from .models import POISON_FLAGS, UNVERIFIED_TOKEN, format_amount
from .store import Store
from .tokens import lookup

EXIT_CATEGORIES = tuple(sorted(SERVICE_CATEGORIES - {"token"}))  # services that take funds out of the trail
DORMANT_DAYS = 30  # an address that moved nothing for this long before moving again is "dormant funds moved"


@dataclass
class AssetAmount:
    asset: str      # symbol as reported (untrusted text for tokens)
    token: str      # ETH or the token contract
    amount: str     # exact base units, decimal text
    display: str    # for people: the amount in whole units

    @classmethod
    def of(cls, asset: str, token: str, decimals: int, units: int) -> "AssetAmount":
        return cls(asset, token, str(units), format_amount(units, decimals))


@dataclass
class HopNews:
    hop: int
    new_transfers: int = 0
    new_addresses: int = 0
    poison_transfers: int = 0  # new poisoning spam, counted but never summed into amounts
    unverified_followed: int = 0  # with --follow-unverified-tokens: followed, but never summed (symbols lie)
    moved: list[AssetAmount] = field(default_factory=list)


@dataclass
class ExitNews:
    address: str
    label: str
    label_source: str
    category: str
    tx_hash: str
    moved: list[AssetAmount]
    destination: str = ""  # decoded bridge destination (chain:address), when there is one


@dataclass
class DormantMove:
    address: str
    hop: int
    idle_days: int
    first_tx_hash: str
    moved: list[AssetAmount]


@dataclass
class AttributedMove:
    """A publicly attributed address (a seed) sent value: the first thing an analyst watching a list wants."""
    address: str
    sources: str  # who attributed it: the bundled list's label, or the synced sources' names
    first_tx_hash: str
    moved: list[AssetAmount]


@dataclass
class News:
    run_id: int | None
    previous_run_id: int | None
    covers_runs: list[int] = field(default_factory=list)  # this run and earlier ones never announced
    hops: list[HopNews] = field(default_factory=list)
    new_exits: list[ExitNews] = field(default_factory=list)
    dormant_moved: list[DormantMove] = field(default_factory=list)
    attributed_moved: list[AttributedMove] = field(default_factory=list)
    exits_to_mark: dict[str, str] = field(default_factory=dict)  # address -> category, once announced

    @property
    def new_transfers(self) -> int:
        return sum(h.new_transfers for h in self.hops)

    @property
    def new_addresses(self) -> int:
        return sum(h.new_addresses for h in self.hops)

    @property
    def anything(self) -> bool:
        return bool(self.new_transfers or self.new_addresses or self.new_exits or self.dormant_moved
                    or self.attributed_moved)

    def to_json(self) -> dict:
        out = asdict(self)
        del out["exits_to_mark"]
        return out


def _amounts(sums: dict[tuple[str, str, int], int]) -> list[AssetAmount]:
    return [AssetAmount.of(asset, token, dec, units) for (asset, token, dec), units in sorted(sums.items()) if units]


def whats_new(store: Store, run_id: int | None = None, dormant_days: int = DORMANT_DAYS,
              hops: dict[str, int] | None = None, follow_unverified: bool = False) -> News:
    """What run `run_id` (default: the newest run, finished or not) has to announce.

    News is durable: it covers every earlier run whose news never reached the analyst (a run
    killed, failed, or whose output was lost), so nothing stored is ever left unannounced; the
    CLI marks it announced once printed (Store.mark_announced). A transfer counts at the hop of
    its sender, else of its recipient: `hops` (the run's own reach) over the stored hops.
    """
    if run_id is None:  # a report: the newest run, with what killed or failed runs stored and never announced
        run_id = store.conn.execute("SELECT max(id) FROM runs").fetchone()[0]
        if run_id is None:
            return News(None, None)
    batch = store.unannounced_runs(run_id) or [run_id]
    previous = store.conn.execute("SELECT max(id) FROM runs WHERE id<? AND status='ok'", (batch[0],)).fetchone()[0]
    news = News(run_id, previous, batch)
    stored_hops = dict(store.conn.execute("SELECT address, hop FROM addresses WHERE hop IS NOT NULL"))
    hops = {**stored_hops, **(hops or {})}
    followed = {r[0] for r in store.conn.execute("SELECT address FROM addresses WHERE followed=1")}
    by_hop: dict[int, HopNews] = {}
    moved_by_hop: dict[int, dict] = defaultdict(lambda: defaultdict(int))
    outflows: dict[str, list] = defaultdict(list)
    new_transfers = store.new_transfers_of_runs(batch)
    for t in new_transfers:
        if t.kind in (FEE, CO_SPEND):
            continue  # a Bitcoin transaction's fee, and its co-spenders' coins: not transfers to announce or sum
        hop = hops.get(t.from_addr, hops.get(t.to_addr))
        if hop is None:
            continue
        news_hop = by_hop.setdefault(hop, HopNews(hop))
        news_hop.new_transfers += 1
        if t.is_poison:
            if follow_unverified and t.flags & POISON_FLAGS == {UNVERIFIED_TOKEN}:
                news_hop.unverified_followed += 1
            else:
                news_hop.poison_transfers += 1
            continue
        moved_by_hop[hop][(t.asset, t.token, t.decimals)] += t.amount
        if t.from_addr in followed:
            outflows[t.from_addr].append(t)
    marks = ",".join("?" * len(batch))
    for address, hop in store.conn.execute(
            f"SELECT address, hop FROM addresses WHERE first_reached IN ({marks}) AND hop IS NOT NULL", batch):
        by_hop.setdefault(hop, HopNews(hop)).new_addresses += 1
    for hop, sums in moved_by_hop.items():
        by_hop[hop].moved = _amounts(sums)
    news.hops = [by_hop[h] for h in sorted(by_hop)]

    imported = store.imported_label_map()
    _new_exits(store, news, imported)
    new_tx = {t.tx_hash for t in new_transfers}
    decoded = [r for r in store.exit_rows() if r["tx_hash"] in new_tx and r["dest_address"]]
    for r in decoded:
        label, source = display_label(r["venue"], imported.get(r["venue"]))
        token = lookup(r["token"]) if r["token"] != "ETH" else None
        asset, decimals = ("ETH", 18) if r["token"] == "ETH" else (token.symbol, token.decimals) if token else \
            (r["token"], 0)
        news.new_exits.append(ExitNews(
            r["venue"], label or r["protocol"], source, "bridge", r["tx_hash"],
            [AssetAmount.of(asset, r["token"], decimals, int(r["amount"]))], f"{r['dest_chain']}:{r['dest_address']}"))

    first_run = store.conn.execute("SELECT min(id) FROM runs").fetchone()[0]
    if batch[0] != first_run:  # on the first run every seed's history is new, not news
        _attributed_moves(store, news, outflows)
    # dormant funds that moved: the address's previous activity is older than dormant_days
    for address, moves in sorted(outflows.items() if batch[0] != first_run else ()):  # nothing slept before run 1
        row = store.conn.execute(
            "SELECT max(timestamp) FROM (SELECT timestamp FROM transfers WHERE from_addr=? AND first_run<?"
            " UNION ALL SELECT timestamp FROM transfers WHERE to_addr=? AND first_run<? AND flags='') AS earlier",
            (address, batch[0], address, batch[0])).fetchone()
        if row[0] is None:
            continue
        first = min(moves, key=lambda t: (t.block, t.key))
        idle = (first.timestamp - int(row[0])) // 86400
        if idle < dormant_days:
            continue
        sums: dict = defaultdict(int)
        for t in moves:
            sums[(t.asset, t.token, t.decimals)] += t.amount
        news.dormant_moved.append(DormantMove(address, hops.get(address, -1), int(idle), first.tx_hash,
                                              _amounts(sums)))
    return news


def _seed_chain(node: str) -> tuple[str, str]:
    """A node id as the seed lists key it: ("eth", "0x…"), ("arbi", "0x…") for arb:0x…, ("btc", "bc1…")."""
    from .chains import split_node

    chain, address = split_node(node)
    return {"arb": "arbi"}.get(chain, chain), address


def _attributed_moves(store: Store, news: News, outflows: dict[str, list]) -> None:
    from .seeds import seed_index

    bundled = seed_index()
    for address, moves in sorted(outflows.items()):
        chain, plain = _seed_chain(address)
        synced = [r[0] for r in store.conn.execute(
            "SELECT DISTINCT source FROM synced_seeds WHERE address=? AND chain=? AND removed_at IS NULL"
            " ORDER BY source", (plain, chain))]
        names = ([f"bundled: {bundled[address].label}"] if address in bundled else []) + synced
        if not names:
            continue
        sums: dict = defaultdict(int)
        for t in moves:
            sums[(t.asset, t.token, t.decimals)] += t.amount
        first = min(moves, key=lambda t: (t.block, t.key))
        news.attributed_moved.append(AttributedMove(address, "; ".join(names), first.tx_hash, _amounts(sums)))


def _new_exits(store: Store, news: News, imported: dict) -> None:
    """Exits never announced before: reached addresses that the stored decision or the current labels
    (whichever came last: a label imported after the trace counts) call an exchange, bridge, mixer,
    DEX or service, and that received value from a followed address."""
    announced = store.announced_exit_addresses()
    rows = store.conn.execute("SELECT address, category, followed, reach_block, hop FROM addresses"
                              " WHERE hop IS NOT NULL").fetchall()
    trail = {r[0]: (r[3] or 0) for r in rows if on_trail(r[0], r[2], r[4], imported.get(r[0]))}
    for address, stored, _, _, hop in rows:
        if address in announced or hop == 0:
            continue
        category = current_category(address, stored, imported.get(address))
        if category not in EXIT_CATEGORIES:
            continue
        sums: dict = defaultdict(int)
        first = None
        for t in store.clean_inflows(address):
            if t.from_addr in trail and t.block >= trail[t.from_addr]:
                sums[(t.asset, t.token, t.decimals)] += t.amount
                first = first or t
        if first is None:
            continue  # reached, but no traced value arrived (yet)
        label, source = display_label(address, imported.get(address))
        news.new_exits.append(ExitNews(address, label, source, category, first.tx_hash, _amounts(sums)))
        news.exits_to_mark[address] = category


def news_lines(news: News, text=str) -> list[str]:
    """The plain-text form (cron mails it): one line per hop, exit and dormant move. `text` makes
    untrusted strings (token symbols, labels, decoded destinations) safe for where the lines go."""
    lines = []
    for m in news.attributed_moved:  # first: the addresses someone published as the thieves' moved
        moved = ", ".join(f"{a.display} {text(a.asset)}" for a in m.moved)
        lines.append(f"attributed address moved: {m.address} ({text(m.sources)}): {moved} (first tx {m.first_tx_hash})")
    for h in news.hops:
        moved = ", ".join(f"{a.display} {text(a.asset)}" for a in h.moved) or "nothing"
        spam = f" ({h.poison_transfers} of them poisoning, ignored)" if h.poison_transfers else ""
        if h.unverified_followed:
            spam += f" ({h.unverified_followed} of them of unverified tokens, followed)"
        lines.append(f"hop {h.hop}: {h.new_transfers} new transfers{spam}, {h.new_addresses} new addresses, "
                     f"moved {moved}")
    for e in news.new_exits:
        moved = ", ".join(f"{a.display} {text(a.asset)}" for a in e.moved)
        dest = f" -> {text(e.destination)}" if e.destination else ""
        label = f" ({text(e.label)})" if e.label else ""
        lines.append(f"new exit: {e.category} {e.address}{label}: {moved}{dest} (tx {e.tx_hash})")
    for d in news.dormant_moved:
        moved = ", ".join(f"{a.display} {text(a.asset)}" for a in d.moved)
        lines.append(f"dormant funds moved: {d.address} (hop {d.hop}, idle {d.idle_days} days): {moved} "
                     f"(first tx {d.first_tx_hash})")
    return lines
