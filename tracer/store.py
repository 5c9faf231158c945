"""The SQLite store: the case file an analyst keeps between nightly runs.

Why SQLite and these rules:
- one file per investigation, easy to copy and hand over;
- a transfer's identity is its primary key, so a rerun or a second source
  can never duplicate it (INSERT OR IGNORE);
- each address's fetch lands in one transaction together with its scan
  cursors, so a run killed at any moment loses at most the address in
  flight and the next run resumes from the cursors;
- amounts are TEXT: wei does not fit SQLite's 64-bit integers, and floats
  would lose it;
- a lock file (flock) keeps two runs off one store; the kernel releases it
  when a run dies, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .errors import InputError, StoreBusyError, StoreError
from .models import LOOKALIKE, POISON_FLAGS, Transfer

SCHEMA_VERSION = 9
# A trace commits its fetched addresses every FLUSH_SECONDS or FLUSH_TRANSFERS, whichever comes first:
# a killed run loses at most that much, and each commit rewrites the index pages it touched (random
# transfer ids touch most of them at scale), so fewer, larger commits are what a million-row store needs.
FLUSH_SECONDS = 0.5
FLUSH_TRANSFERS = 100_000
APPLICATION_ID = 0x54524352  # "TRCR": marks the file as ours, so foreign SQLite files are refused

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE addresses (
    address      TEXT PRIMARY KEY,
    is_contract  INTEGER,            -- NULL: not checked
    code_kind    TEXT,               -- eoa | contract | wallet-contract
    hop          INTEGER,            -- distance from the nearest seed; NULL if never reached
    reach_block  INTEGER,            -- first block at which traced value reached it
    followed     INTEGER NOT NULL DEFAULT 0,
    category     TEXT,               -- set by the tracer: seed, dex, service, poison, ...
    flags        TEXT NOT NULL DEFAULT '',
    first_run    INTEGER
);
CREATE TABLE transfers (
    id          TEXT PRIMARY KEY,    -- tx_hash:kind:position
    tx_hash     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    position    TEXT NOT NULL,
    log_index   INTEGER,
    block       INTEGER NOT NULL,
    timestamp   INTEGER NOT NULL,
    from_addr   TEXT NOT NULL,
    to_addr     TEXT NOT NULL,
    token       TEXT NOT NULL,
    asset       TEXT NOT NULL,
    decimals    INTEGER NOT NULL,
    amount      TEXT NOT NULL,       -- exact base units, decimal text
    flags       TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL,
    first_run   INTEGER
);
CREATE INDEX transfers_from ON transfers (from_addr, block);
CREATE INDEX transfers_to ON transfers (to_addr, block);
CREATE INDEX transfers_run ON transfers (first_run);
CREATE TABLE cursors (
    address      TEXT NOT NULL,
    action       TEXT NOT NULL,      -- txlist | txlistinternal | tokentx (or a node's method)
    scanned_from INTEGER NOT NULL,   -- blocks [scanned_from, scanned_to] are in the store
    scanned_to   INTEGER NOT NULL,
    run_id       INTEGER,
    PRIMARY KEY (address, action)
);
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    started_at  REAL NOT NULL,
    ended_at    REAL,
    status      TEXT NOT NULL,       -- running | ok | failed | killed
    params      TEXT NOT NULL,       -- JSON, never holds secrets
    head_block  INTEGER,
    requests    INTEGER,
    new_transfers INTEGER,
    new_addresses INTEGER,
    followed_addresses INTEGER,
    error       TEXT
);
"""


# Each step takes a store from version n-1 to n, inside the transaction that records n.
MIGRATIONS: dict[int, str] = {
    2: """
    ALTER TABLE transfers ADD COLUMN memo TEXT;          -- text a transaction carried (a bridge memo), untrusted
    CREATE TABLE labels (
        address  TEXT NOT NULL,
        label    TEXT NOT NULL,
        category TEXT NOT NULL,                          -- exchange, bridge, mixer, dex, sanctioned, phishing, ...
        source   TEXT NOT NULL,                          -- the dataset (and file) it was imported from
        PRIMARY KEY (address, source)
    );
    CREATE TABLE exits (
        tx_hash      TEXT NOT NULL,
        log_index    INTEGER NOT NULL,                   -- -1 when decoded from a memo, not a log
        protocol     TEXT NOT NULL,                      -- thorchain, tornado, chainflip, lifi
        venue        TEXT NOT NULL,                      -- the contract or vault that took the funds
        depositor    TEXT NOT NULL,                      -- who sent them (the transaction's sender)
        block        INTEGER NOT NULL,
        timestamp    INTEGER NOT NULL,
        token        TEXT NOT NULL,                      -- ETH or the token contract
        amount       TEXT NOT NULL,                      -- exact base units
        dest_chain   TEXT NOT NULL DEFAULT '',
        dest_address TEXT NOT NULL DEFAULT '',
        dest_asset   TEXT NOT NULL DEFAULT '',
        memo         TEXT NOT NULL DEFAULT '',
        detail       TEXT NOT NULL DEFAULT '{}',         -- JSON: commitment, denomination, limit, ...
        flags        TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (tx_hash, log_index, protocol)
    );
    CREATE INDEX exits_depositor ON exits (depositor);
    CREATE TABLE decoded_txs (tx_hash TEXT PRIMARY KEY);  -- receipts already read for exits
    """,
    3: """
    CREATE TABLE mixer_links (                            -- candidates, never facts
        deposit_tx     TEXT NOT NULL,
        withdrawal_tx  TEXT NOT NULL,
        withdrawal_log INTEGER NOT NULL,
        pool           TEXT NOT NULL,
        depositor      TEXT NOT NULL,
        withdrawer     TEXT NOT NULL,
        relayer        TEXT NOT NULL,
        fee            TEXT NOT NULL,
        block          INTEGER NOT NULL,
        timestamp      INTEGER NOT NULL,
        amount         TEXT NOT NULL,
        confidence     REAL NOT NULL,
        heuristics     TEXT NOT NULL,
        PRIMARY KEY (deposit_tx, withdrawal_tx, withdrawal_log)
    );
    """,
    4: """
    CREATE TABLE balances (                               -- last screen of a followed address (nightly reruns)
        address TEXT NOT NULL,
        token   TEXT NOT NULL,                            -- ETH or a token contract
        amount  TEXT NOT NULL,
        block   INTEGER NOT NULL,
        PRIMARY KEY (address, token)
    );
    """,
    5: """
    DROP INDEX IF EXISTS transfers_run;                   -- read once per run, written a million times
    """,
    6: """
    ALTER TABLE addresses ADD COLUMN first_reached INTEGER;  -- the run whose trace first reached it (news)
    UPDATE addresses SET first_reached = first_run WHERE hop IS NOT NULL;
    """,
    7: """
    -- News is durable: a run's news covers every run not yet announced (killed, failed, or whose
    -- output never reached the analyst), and is marked announced only once it has been printed.
    ALTER TABLE runs ADD COLUMN announced_by INTEGER;     -- the run whose printed news covered this one
    ALTER TABLE runs ADD COLUMN rejected INTEGER;         -- malformed or out-of-range records skipped
    ALTER TABLE runs ADD COLUMN rejected_detail TEXT;     -- JSON: the first of them (address, action, tx, reason)
    UPDATE runs SET announced_by = id;                    -- what older versions printed is not repeated
    CREATE TABLE announced_exits (                        -- exits already announced, whatever the order of
        address  TEXT PRIMARY KEY,                        -- labels and traces that made them exits
        category TEXT NOT NULL,
        run_id   INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO announced_exits
        SELECT address, category, COALESCE(first_reached, 0) FROM addresses
        WHERE category IN ('bridge', 'dex', 'exchange', 'mixer', 'service') AND hop IS NOT NULL;
    """,
    8: """
    CREATE TABLE usage (                                  -- requests sent per UTC day and service (quotas are daily)
        day      TEXT NOT NULL,                           -- YYYY-MM-DD, UTC: Etherscan and Blockscout reset at 00:00
        service  TEXT NOT NULL,
        requests INTEGER NOT NULL,
        PRIMARY KEY (day, service)
    );
    """,
    9: """
    CREATE TABLE seed_syncs (                             -- every sync of an attributed-address source
        id         INTEGER PRIMARY KEY,
        source     TEXT NOT NULL,                         -- lazarusbounty, fbi, or the file/URL's name
        url        TEXT NOT NULL,
        sha256     TEXT NOT NULL,                         -- of the document as received
        fetched_at TEXT NOT NULL,                         -- UTC, ISO 8601
        added      INTEGER NOT NULL,
        removed    INTEGER NOT NULL,
        summary    TEXT NOT NULL                          -- JSON: counts per chain and the quirks met
    );
    CREATE TABLE synced_seeds (                           -- one attributed address as one source lists it
        source      TEXT NOT NULL,
        chain       TEXT NOT NULL,                        -- the feed's key: eth, btc, bsc, arbi, tron, solana, ...
        address     TEXT NOT NULL,                        -- EVM lowercased; other chains as written
        case_name   TEXT NOT NULL,
        url         TEXT NOT NULL,
        sha256      TEXT NOT NULL,                        -- the document it was last seen in
        first_seen  TEXT NOT NULL,
        last_seen   TEXT NOT NULL,
        removed_at  TEXT,                                 -- set when a later sync no longer lists it
        flags       TEXT NOT NULL DEFAULT '',             -- bad-checksum, unsupported-chain
        PRIMARY KEY (source, chain, address, case_name)
    );
    CREATE INDEX synced_seeds_case ON synced_seeds (case_name, chain);
    """,
}


@dataclass(frozen=True, slots=True)
class Cursor:
    scanned_from: int
    scanned_to: int


@dataclass(slots=True)
class AddressRow:
    address: str
    is_contract: bool | None
    code_kind: str | None
    hop: int | None
    reach_block: int | None
    followed: bool
    category: str | None
    flags: str


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str | None) -> str | None:
    """Text SQLite can hold: anyone can name a token with a lone surrogate ("\\ud800"), which is not
    encodable as UTF-8 and would fail the whole commit (and so block the case for good)."""
    if text is None or text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def store_error(path: Path | None, exc: sqlite3.Error, doing: str) -> StoreError:
    """One line an analyst can act on, for what SQLite said while `doing` something."""
    text = str(exc)
    low = text.lower()
    who = f"store {path}" if path else "the store"
    if "disk is full" in low or "disk i/o error" in low:
        why = "the disk is full or failing (nothing of the unfinished step was kept; free space and rerun)"
    elif "readonly" in low or "read-only" in low:
        why = "the store is read-only (check the file's and its folder's permissions)"
    elif "malformed" in low or "not a database" in low or "corrupt" in low:
        why = f"the store is damaged ({text}); restore it from a backup"
    elif "locked" in low or "busy" in low:
        return StoreBusyError(f"{who} is in use by another program; try again when it finishes")
    elif "unable to open" in low:
        why = "the file cannot be opened (check its folder's permissions)"
    else:
        why = text
    return StoreError(f"{who}: cannot {doing}: {why}")


def _flags_text(flags: Iterable[str]) -> str:
    return ",".join(sorted(flags))


_FLAG_SETS: dict[str, frozenset[str]] = {}


def _flags_set(text: str) -> frozenset[str]:
    """Parsed once per distinct text: a store holds millions of rows but a handful of flag combinations."""
    parsed = _FLAG_SETS.get(text)
    if parsed is None:
        parsed = _FLAG_SETS[text] = frozenset(f for f in text.split(",") if f)
    return parsed


def transfer_from_row(row: sqlite3.Row) -> Transfer:
    return Transfer(
        tx_hash=row["tx_hash"],
        kind=row["kind"],
        position=row["position"],
        block=row["block"],
        timestamp=row["timestamp"],
        from_addr=row["from_addr"],
        to_addr=row["to_addr"],
        token=row["token"],
        asset=row["asset"],
        decimals=row["decimals"],
        amount=int(row["amount"]),
        flags=frozenset(_flags_set(row["flags"])),
        log_index=row["log_index"],
        memo=row["memo"],
    )


class Store:
    """A tracer case file. Open with Store.open(path)."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path
        self._lock_fd: int | None = None

    # ---- opening -----------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], create: bool = True, write: bool | None = None) -> "Store":
        """create: make a new store if there is none. write: the caller will write (default: create);
        a store we may not write is then refused at once, and opened read-only for readers."""
        p = Path(path)
        write = create if write is None else write
        if not p.parent.exists():
            raise StoreError(f"cannot open store {p}: directory {p.parent} does not exist")
        if p.is_dir():
            raise StoreError(f"cannot open store {p}: it is a directory")
        exists = p.exists() and p.stat().st_size > 0
        if not exists and not create:
            raise StoreError(f"no store at {p}: run `tracer trace` first")
        if exists:
            with open(p, "rb") as fh:
                if fh.read(16) != b"SQLite format 3\x00":
                    raise StoreError(f"{p} is not a tracer store (not an SQLite file); refusing to touch it")
        writable = os.access(p.parent, os.W_OK) and (not exists or os.access(p, os.W_OK))
        if not writable and write:
            raise StoreError(f"store {p} is read-only (check the file's and its folder's permissions)")
        # A reader of a store it may not write opens it immutable: SQLite would otherwise need to create the
        # WAL's shared-memory file beside it, and fail.
        target = f"file:{quote(str(p.resolve()))}?immutable=1" if not writable else p
        try:
            conn = sqlite3.connect(target, timeout=5.0, isolation_level=None, check_same_thread=False,
                                   uri=not writable)
            conn.row_factory = sqlite3.Row
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{p} is not a usable tracer store ({exc}); refusing to touch it") from None
        store = cls(conn, p)
        if app_id == 0 and tables == 0:
            store._create()
        elif app_id != APPLICATION_ID:
            conn.close()
            raise StoreError(f"{p} is an SQLite file of another application; refusing to touch it")
        else:
            store._check_version()
        # WAL with synchronous=NORMAL: every commit is atomic and survives a killed process (what a
        # run must guarantee); only a power cut may lose the last commits, never corrupt the file.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-1048576")  # up to 1 GiB of pages: index inserts stay in memory at scale
        # Checkpoint the WAL every ~256 MiB instead of 4 MiB: index pages rewritten by many commits are copied
        # into the file once, not after every commit; the WAL is cut back to 64 MiB after each checkpoint.
        conn.execute("PRAGMA wal_autocheckpoint=65536")
        conn.execute("PRAGMA journal_size_limit=67108864")
        return store

    def _create(self) -> None:
        try:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.executescript(
                    "BEGIN IMMEDIATE;"
                    + _SCHEMA
                    + "INSERT INTO meta VALUES ('schema_version', '1');"
                    + f"PRAGMA application_id={APPLICATION_ID};"
                    + "COMMIT;"
                )
            except sqlite3.DatabaseError as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise store_error(self.path, exc, "create it") from None
            self._migrate(1, doing="create it")
        except StoreError as exc:
            self.conn.close()
            for suffix in ("", "-wal", "-shm"):  # a half-made store is worth nothing: leave no file behind
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            raise exc from None

    def _check_version(self) -> None:
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            self.conn.execute("SELECT count(*) FROM transfers").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is a damaged tracer store ({exc})") from None
        try:
            version = int(row[0]) if row else 0
        except (TypeError, ValueError):
            raise StoreError(f"{self.path} has an unreadable schema version {str(row[0])[:20]!r}; "
                             "refusing to touch it") from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer tracer (schema {version} > {SCHEMA_VERSION}); upgrade tracer"
            )
        if version < 1:
            raise StoreError(f"{self.path} has an unknown schema version {version}")
        self._migrate(version)

    def _migrate(self, version: int, doing: str = "") -> None:
        """Bring an older store up to SCHEMA_VERSION, one step per transaction, never losing data."""
        for target in range(version + 1, SCHEMA_VERSION + 1):
            try:
                self.conn.executescript(
                    "BEGIN IMMEDIATE;" + MIGRATIONS[target]
                    + f"UPDATE meta SET value='{target}' WHERE key='schema_version';COMMIT;"
                )
            except sqlite3.DatabaseError as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise store_error(self.path, exc, doing or f"upgrade it to schema {target}") from None

    def close(self) -> None:
        self.release_lock()
        self.conn.close()

    # ---- locking -----------------------------------------------------------------
    def acquire_lock(self, wait_seconds: float = 3.0) -> None:
        """Hold the store for one run; a second run waits briefly, then gives up clearly."""
        lock_path = str(self.path) + ".lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StoreBusyError(
                        f"store {self.path} is in use by another tracer run; try again when it finishes"
                    ) from None
                time.sleep(0.1)
        self._lock_fd = fd

    def release_lock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing; SQLite's failures (disk full, read-only, damaged file) become one StoreError."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise store_error(self.path, exc, "write") from None
        try:
            yield self.conn
        except BaseException as exc:
            self._rollback_quietly()
            if isinstance(exc, sqlite3.Error):
                raise store_error(self.path, exc, "write") from None
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback_quietly()
                raise store_error(self.path, exc, "write") from None

    def _rollback_quietly(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite rolls back by itself when it cannot

    def check_integrity(self) -> None:
        """Refuse to write into a damaged file (a trace would otherwise run on and make it worse)."""
        try:
            rows = [r[0] for r in self.conn.execute("PRAGMA quick_check(3)")]
        except sqlite3.Error as exc:
            raise store_error(self.path, exc, "check it") from None
        if rows != ["ok"]:
            raise StoreError(f"store {self.path} is damaged ({'; '.join(map(str, rows))[:200]}); "
                             "restore it from a backup")

    # ---- runs --------------------------------------------------------------------
    def start_run(self, params: dict) -> int:
        with self.transaction() as c:
            # A run that never ended was killed: say so instead of leaving it "running".
            c.execute("UPDATE runs SET status='killed' WHERE status='running'")
            cur = c.execute(
                "INSERT INTO runs (started_at, status, params) VALUES (?, 'running', ?)",
                (time.time(), json.dumps(params, sort_keys=True)),
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, **counts: object) -> None:
        counts = {k: storable(v) if isinstance(v, str) else v for k, v in counts.items()}
        cols = ", ".join(f"{k}=?" for k in counts)
        with self.transaction() as c:
            c.execute(
                f"UPDATE runs SET ended_at=?, status=?{', ' + cols if cols else ''} WHERE id=?",
                (time.time(), status, *counts.values(), run_id),
            )

    def set_run_params(self, run_id: int, params: dict) -> None:
        with self.transaction() as c:
            c.execute("UPDATE runs SET params=? WHERE id=?", (json.dumps(params, sort_keys=True), run_id))

    def add_usage(self, service: str, requests: int) -> None:
        if requests <= 0:
            return
        day = time.strftime("%Y-%m-%d", time.gmtime())
        with self.transaction() as c:
            c.execute("INSERT INTO usage VALUES (?,?,?) ON CONFLICT(day, service) DO UPDATE SET"
                      " requests=requests+excluded.requests", (day, service, requests))

    def usage_today(self) -> dict[str, int]:
        day = time.strftime("%Y-%m-%d", time.gmtime())
        return dict(self.conn.execute("SELECT service, requests FROM usage WHERE day=?", (day,)).fetchall())

    # ---- news, announced once ----------------------------------------------------
    def unannounced_runs(self, up_to: int) -> list[int]:
        """Runs up to `up_to` whose additions no printed news has covered yet (killed, failed, or whose
        output was lost), plus those `up_to` itself announced: what a run's news is about."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM runs WHERE id<=? AND (announced_by IS NULL OR announced_by=?) ORDER BY id",
            (up_to, up_to))]

    def announced_exit_addresses(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT address FROM announced_exits")}

    def mark_announced(self, run_id: int, exits: dict[str, str]) -> None:
        """The news of `run_id` reached the analyst: it covers every earlier run not yet announced, and
        these exits (address -> category) are never announced as new again."""
        with self.transaction() as c:
            c.execute("UPDATE runs SET announced_by=? WHERE id<=? AND announced_by IS NULL", (run_id, run_id))
            c.executemany("INSERT OR IGNORE INTO announced_exits VALUES (?,?,?)",
                          [(a, cat, run_id) for a, cat in exits.items()])

    def runs(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM runs ORDER BY id").fetchall()

    # ---- addresses ---------------------------------------------------------------
    def address(self, address: str) -> AddressRow | None:
        row = self.conn.execute("SELECT * FROM addresses WHERE address=?", (address,)).fetchone()
        if row is None:
            return None
        return AddressRow(
            address=row["address"],
            is_contract=None if row["is_contract"] is None else bool(row["is_contract"]),
            code_kind=row["code_kind"],
            hop=row["hop"],
            reach_block=row["reach_block"],
            followed=bool(row["followed"]),
            category=row["category"],
            flags=row["flags"],
        )

    def set_code(self, codes: dict[str, str]) -> None:
        """Record code kinds (eoa | contract | wallet-contract) found for addresses."""
        with self.transaction() as c:
            for address, kind in codes.items():
                c.execute("INSERT OR IGNORE INTO addresses (address) VALUES (?)", (address,))
                c.execute(
                    "UPDATE addresses SET is_contract=?, code_kind=? WHERE address=?",
                    (0 if kind == "eoa" else 1, kind, address),
                )

    def code_kinds(self, addresses: Iterable[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for a in addresses:
            row = self.conn.execute("SELECT code_kind FROM addresses WHERE address=?", (a,)).fetchone()
            out[a] = row[0] if row else None
        return out

    def set_trace_state(self, states: dict[str, tuple[int, int, str | None, bool]], run_id: int,
                        endpoints: Iterable[str] = ()) -> int:
        """Write (hop, reach_block, category, followed) for the addresses a trace reached.

        `endpoints` are addresses now known to be services (a label imported after an earlier run
        followed them): they are no longer part of the trail, whatever an earlier run decided.
        Returns how many of them are new to the store.
        """
        with self.transaction() as c:
            before = c.total_changes
            c.executemany("INSERT OR IGNORE INTO addresses (address, first_run) VALUES (?, ?)",
                          [(address, run_id) for address in states])
            new = c.total_changes - before
            c.executemany(
                "UPDATE addresses SET hop=?, reach_block=?, category=?, followed=MAX(followed, ?),"
                " first_reached=COALESCE(first_reached, ?) WHERE address=?",
                [(hop, reach, category, int(followed), run_id, address)
                 for address, (hop, reach, category, followed) in states.items()],
            )
            c.executemany("UPDATE addresses SET followed=0 WHERE address=?", [(a,) for a in endpoints])
        return new

    def balances(self) -> dict[tuple[str, str], int]:
        return {(r[0], r[1]): int(r[2]) for r in self.conn.execute("SELECT address, token, amount FROM balances")}

    def held_tokens(self, address: str) -> list[str]:
        """Registered tokens this address received more of than it sent (it may still hold them)."""
        net: dict[str, int] = {}
        for r in self.conn.execute(
            "SELECT token, from_addr, amount FROM transfers WHERE kind='erc20' AND flags='' AND"
            " (from_addr=? OR to_addr=?)", (address, address)
        ):
            net[r[0]] = net.get(r[0], 0) + (-int(r[2]) if r[1] == address else int(r[2]))
        return sorted(token for token, amount in net.items() if amount > 0)

    def unfollow(self, address: str) -> None:
        """Its history was read, but it turned out to be a contract: an endpoint, not part of the trail."""
        self.conn.execute("UPDATE addresses SET followed=0 WHERE address=?", (address,))

    # ---- synced seeds ------------------------------------------------------------------
    def sync_seeds(self, source: str, url: str, sha256: str, fetched_at: str, seeds: Iterable,
                   summary: dict, max_removed: float | None = 0.5) -> dict[tuple[str, str], dict[str, list[str]]]:
        """Record one sync of `source`: every seed it lists (SyncedSeed: chain, address, case, flags) is
        present from now; one it listed before and no longer does is marked removed (kept, with the date).
        All or nothing. A sync that would remove more than `max_removed` of what the source listed (and more
        than ten addresses) is refused: a list that suddenly lost most of itself is far likelier a broken
        answer than a mass pardon. Returns {(case, chain): {"added": [...], "removed": [...]}}."""
        listed = {(s.chain, s.address, s.case): s for s in seeds}
        changes: dict[tuple[str, str], dict[str, list[str]]] = {}

        def note(case: str, chain: str, kind: str, address: str) -> None:
            changes.setdefault((case, chain), {"added": [], "removed": []})[kind].append(address)

        with self.transaction() as c:
            present = {(r[0], r[1], r[2]) for r in c.execute(
                "SELECT chain, address, case_name FROM synced_seeds WHERE source=? AND removed_at IS NULL", (source,))}
            for key, seed in listed.items():
                flags = ",".join(sorted(seed.flags))
                cur = c.execute(
                    "UPDATE synced_seeds SET url=?, sha256=?, last_seen=?, removed_at=NULL, flags=?"
                    " WHERE source=? AND chain=? AND address=? AND case_name=?",
                    (url, sha256, fetched_at, flags, source, *key))
                if cur.rowcount == 0:
                    c.execute("INSERT INTO synced_seeds (source, chain, address, case_name, url, sha256, first_seen,"
                              " last_seen, flags) VALUES (?,?,?,?,?,?,?,?,?)",
                              (source, *key, url, sha256, fetched_at, fetched_at, flags))
                if key not in present:
                    note(seed.case, seed.chain, "added", seed.address)
            gone = present - set(listed)
            if max_removed is not None and len(gone) > max(10, max_removed * len(present)):
                raise InputError(f"{source}: this document no longer lists {len(gone):,} of the {len(present):,} "
                                 "addresses it listed before; nothing was changed (if that is right, sync again "
                                 "with --accept-removals)")
            for chain, address, case in sorted(gone):
                c.execute("UPDATE synced_seeds SET removed_at=? WHERE source=? AND chain=? AND address=? AND case_name=?",
                          (fetched_at, source, chain, address, case))
                note(case, chain, "removed", address)
            added = sum(len(v["added"]) for v in changes.values())
            removed = sum(len(v["removed"]) for v in changes.values())
            c.execute("INSERT INTO seed_syncs (source, url, sha256, fetched_at, added, removed, summary)"
                      " VALUES (?,?,?,?,?,?,?)", (source, url, sha256, fetched_at, added, removed,
                                                  json.dumps(summary, sort_keys=True)))
        return changes

    def synced_seeds(self, case: str | None = None, chain: str | None = None,
                     include_removed: bool = False) -> list[sqlite3.Row]:
        sql, args = "SELECT * FROM synced_seeds WHERE 1=1", []
        if case:
            sql, args = sql + " AND case_name=?", args + [case]
        if chain:
            sql, args = sql + " AND chain=?", args + [chain]
        if not include_removed:
            sql += " AND removed_at IS NULL"
        return self.conn.execute(sql + " ORDER BY case_name, chain, address, source", args).fetchall()

    def seed_syncs(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM seed_syncs ORDER BY id").fetchall()

    # ---- imported labels ---------------------------------------------------------------
    def import_labels(self, labels: Iterable) -> tuple[int, int]:
        """(read, new) for ImportedLabel rows; re-importing a file changes nothing."""
        read = new = 0
        with self.transaction() as c:
            for lab in labels:
                read += 1
                cur = c.execute(
                    "INSERT INTO labels (address, label, category, source) VALUES (?,?,?,?)"
                    " ON CONFLICT(address, source) DO UPDATE SET label=excluded.label, category=excluded.category",
                    (lab.address, storable(lab.label), storable(lab.category), storable(lab.source)),
                )
                new += cur.rowcount
        return read, new

    def imported_labels(self, address: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT label, category, source FROM labels WHERE address=? ORDER BY source", (address,)
        ).fetchall()

    def imported_label_map(self) -> dict[str, list[tuple[str, str, str]]]:
        out: dict[str, list[tuple[str, str, str]]] = {}
        for r in self.conn.execute("SELECT address, label, category, source FROM labels ORDER BY source"):
            out.setdefault(r[0], []).append((r[1], r[2], r[3]))
        return out

    # ---- exits ---------------------------------------------------------------------------
    def undecoded(self, tx_hashes: Iterable[str]) -> list[str]:
        out = []
        for h in dict.fromkeys(tx_hashes):
            if self.conn.execute("SELECT 1 FROM decoded_txs WHERE tx_hash=?", (h,)).fetchone() is None:
                out.append(h)
        return out

    def save_exits(self, exits: Iterable, decoded: Iterable[str]) -> int:
        """Store decoded exits and remember which transactions were read; returns new exits."""
        new = 0
        with self.transaction() as c:
            for e in exits:
                cur = c.execute(
                    "INSERT OR IGNORE INTO exits (tx_hash, log_index, protocol, venue, depositor, block, timestamp,"
                    " token, amount, dest_chain, dest_address, dest_asset, memo, detail, flags)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (e.tx_hash, e.log_index, e.protocol, e.venue, e.depositor, e.block, e.timestamp, e.token,
                     str(e.amount), storable(e.dest_chain), storable(e.dest_address), storable(e.dest_asset),
                     storable(e.memo), storable(e.detail_json()), _flags_text(e.flags)),
                )
                new += cur.rowcount
            for h in decoded:
                c.execute("INSERT OR IGNORE INTO decoded_txs VALUES (?)", (h,))
        return new

    def btc_outbounds(self, node: str) -> list[tuple[str, int, int, str]]:
        """THORChain outbounds that paid `node` (btc:<address>): (txid, height, time, the inbound hash its
        OUT: memo names, as Ethereum writes it)."""
        rows = self.conn.execute(
            "SELECT DISTINCT tx_hash, block, timestamp, memo FROM transfers WHERE to_addr=? AND kind='utxo'"
            " AND memo LIKE 'OUT:%' ORDER BY block, tx_hash", (node,)).fetchall()
        return [(r["tx_hash"], r["block"], r["timestamp"], "0x" + r["memo"][4:].lower()) for r in rows]

    def btc_payout(self, deposit: str, node: str, outbound: str) -> int:
        """Satoshis a verified crossing paid `node`: its outputs naming `deposit` in their OUT: memo, from the
        vault that paid the first outbound (`outbound`), every part of a swap paid out in parts."""
        row = self.conn.execute(
            "SELECT sum(CAST(amount AS INTEGER)) FROM transfers WHERE kind='utxo' AND to_addr=? AND memo=? AND"
            " from_addr=(SELECT from_addr FROM transfers WHERE tx_hash=? AND kind='utxo' LIMIT 1)",
            (node, f"OUT:{deposit[2:].upper()}", outbound)).fetchone()
        return int(row[0] or 0)

    def verify_exit(self, tx_hash: str, log_index: int, protocol: str, btc_txid: str, btc_height: int) -> None:
        """The outbound transaction that paid a bridge deposit out on Bitcoin was found: flag the exit verified
        (the vault it went through is THORChain's, whatever was unconfirmed about it) and keep the earliest
        outbound (the Bitcoin leg starts there)."""
        with self.transaction() as c:
            row = c.execute("SELECT flags, detail FROM exits WHERE tx_hash=? AND log_index=? AND protocol=?",
                            (tx_hash, log_index, protocol)).fetchone()
            if row is None:
                return
            flags = sorted((set(filter(None, row["flags"].split(","))) - {"vault-unconfirmed"}) | {"verified"})
            detail = json.loads(row["detail"] or "{}")
            known = detail.get("btc_outbound_height")
            if isinstance(known, int) and known <= btc_height:
                btc_txid, btc_height = detail.get("btc_outbound", btc_txid), known
            detail.update(btc_outbound=btc_txid, btc_outbound_height=btc_height)
            c.execute("UPDATE exits SET flags=?, detail=? WHERE tx_hash=? AND log_index=? AND protocol=?",
                      (",".join(flags), json.dumps(detail, sort_keys=True), tx_hash, log_index, protocol))

    def exit_rows(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM exits ORDER BY block, tx_hash, log_index").fetchall()

    def save_links(self, links: Iterable) -> int:
        new = 0
        with self.transaction() as c:
            for link in links:
                d, w = link.deposit, link.withdrawal
                cur = c.execute(
                    "INSERT INTO mixer_links VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(deposit_tx, withdrawal_tx, withdrawal_log) DO UPDATE SET"
                    " confidence=excluded.confidence, heuristics=excluded.heuristics",
                    (d.tx_hash, w.tx_hash, w.log_index, d.pool, d.depositor, w.to, w.relayer, str(w.fee), w.block,
                     w.timestamp, str(d.denomination - w.fee), link.confidence, ",".join(link.heuristics)),
                )
                new += cur.rowcount
        return new

    def link_rows(self, min_confidence: float = 0.0) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM mixer_links WHERE confidence >= ? ORDER BY confidence DESC, block", (min_confidence,)
        ).fetchall()

    def direct_transfer_counts(self, address: str) -> dict[tuple[str, str], int]:
        """Clean transfers between an address and each counterparty, both directions, keyed (a, b)."""
        out: dict[tuple[str, str], int] = {}
        for r in self.conn.execute(
            "SELECT from_addr, to_addr, count(*) FROM transfers WHERE (from_addr=? OR to_addr=?) AND flags=''"
            " GROUP BY from_addr, to_addr", (address, address)
        ):
            out[(r[0], r[1])] = out.get((r[0], r[1]), 0) + int(r[2])
        return out

    # ---- cursors -----------------------------------------------------------------
    def cursor(self, address: str, action: str) -> Cursor | None:
        row = self.conn.execute(
            "SELECT scanned_from, scanned_to FROM cursors WHERE address=? AND action=?", (address, action)
        ).fetchone()
        return Cursor(row[0], row[1]) if row else None

    # ---- transfers ---------------------------------------------------------------
    def commit_fetch(
        self,
        address: str,
        transfers: list[Transfer],
        cursors: dict[str, Cursor],
        source: str,
        run_id: int | None,
    ) -> int:
        """Store one address's fetched transfers and advance its cursors, atomically.

        Returns the number of transfers new to the store.
        """
        return self.commit_fetches([(address, transfers, cursors)], source, run_id)

    def commit_fetches(self, fetched: list[tuple[str, list[Transfer], dict[str, Cursor]]], source: str,
                       run_id: int | None, balances: dict[tuple[str, str], int] | None = None,
                       balance_block: int = 0, forget: list[str] | None = None) -> int:
        """Several complete fetches in one transaction: each address is still all-or-nothing,
        and a node's whole chunk costs one commit instead of hundreds."""
        with self.transaction() as c:
            before = c.total_changes
            c.executemany(
                "INSERT OR IGNORE INTO transfers (id, tx_hash, kind, position, log_index, block, timestamp,"
                " from_addr, to_addr, token, asset, decimals, amount, flags, source, first_run, memo)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (t.key, t.tx_hash, t.kind, t.position, t.log_index, t.block, t.timestamp, t.from_addr,
                     t.to_addr, t.token, storable(t.asset), t.decimals, str(t.amount), _flags_text(t.flags), source,
                     run_id, storable(t.memo))
                    for _, transfers, _ in fetched for t in transfers
                ],
            )
            new = c.total_changes - before
            with_index = [(t.log_index, t.key) for _, transfers, _ in fetched for t in transfers
                          if t.log_index is not None]
            if with_index:  # a node saw what an explorer could not: keep the log index
                c.executemany("UPDATE transfers SET log_index=? WHERE id=? AND log_index IS NULL", with_index)
            c.executemany(
                "INSERT INTO cursors (address, action, scanned_from, scanned_to, run_id) VALUES (?,?,?,?,?)"
                " ON CONFLICT(address, action) DO UPDATE SET scanned_from=excluded.scanned_from,"
                " scanned_to=excluded.scanned_to, run_id=excluded.run_id",
                [(address, action, cur.scanned_from, cur.scanned_to, run_id)
                 for address, _, cursors in fetched for action, cur in cursors.items()],
            )
            c.executemany(
                "INSERT INTO addresses (address, first_run, followed) VALUES (?, ?, 1)"
                " ON CONFLICT(address) DO UPDATE SET followed=1",
                [(address, run_id) for address, _, _ in fetched],
            )
            self._refresh_lookalikes(c, list(dict.fromkeys(address for address, _, _ in fetched)))
            if forget:  # fetched only in part: the next run must not skip them on an old screen
                c.executemany("DELETE FROM balances WHERE address=?", [(a,) for a in forget])
            if balances:
                c.executemany(
                    "INSERT INTO balances VALUES (?,?,?,?) ON CONFLICT(address, token) DO UPDATE SET"
                    " amount=excluded.amount, block=excluded.block",
                    [(a, t, str(v), balance_block) for (a, t), v in balances.items()],
                )
        return new

    def _refresh_lookalikes(self, c: sqlite3.Connection, addresses: list[str]) -> None:
        """Flag transfers whose counterparty imitates one of the address's real counterparties.

        Poisoners generate addresses sharing the first and last hex digits
        of a counterparty the victim really uses, hoping it gets copied from
        the history. "Real" = moved value in a clean transfer, or was reached
        by the trace. Recomputed over each address's whole stored history,
        so a counterparty learned later still unmasks earlier spam. A batch
        of addresses is read in a few IN-queries rather than one per
        address: at a million transfers the per-statement cost dominated.
        """
        wanted = set(addresses)
        # (id, counterparty, moved value in a transfer not itself poisoning, flag text)
        history: dict[str, list[tuple[str, str, bool, str]]] = {a: [] for a in wanted}
        intrinsic = POISON_FLAGS - {LOOKALIKE}
        plain = c.cursor()
        plain.row_factory = None  # plain tuples: a million sqlite3.Row objects cost seconds
        for i in range(0, len(addresses), 500):
            part = addresses[i: i + 500]
            marks = ",".join("?" * len(part))
            for column in ("from_addr", "to_addr"):  # two index scans (an OR would make SQLite merge them)
                for tid, frm, to, moved, flags in plain.execute(
                        f"SELECT id, from_addr, to_addr, amount!='0', flags FROM transfers WHERE {column} IN ({marks})",
                        part):
                    clean = not _flags_set(flags) & intrinsic
                    if column == "from_addr":
                        history[frm].append((tid, to, moved and clean, flags))
                    elif frm != to:
                        history[to].append((tid, frm, moved and clean, flags))
        plans: dict[str, tuple[set[str], list[str]]] = {}
        to_check: set[str] = set()
        for address, rows in history.items():
            genuine = {other for _, other, real, _ in rows if real}
            others = {other for _, other, _, _ in rows} - genuine - {address}
            # An address the trace itself reached is a real counterparty too. That only matters where
            # shapes meet: an "other" shaped like a real counterparty, or two others shaped alike.
            shapes = [(o[2:6], o[-4:]) for o in others]
            known = {(g[2:6], g[-4:]) for g in genuine}
            meet = any(sh in known for sh in shapes) or len(set(shapes)) < len(shapes)
            if not meet and not any(LOOKALIKE in _flags_set(flags) for _, _, _, flags in rows):
                continue  # no two counterparties share a shape and nothing is flagged: nothing can change
            plans[address] = (genuine, sorted(others) if meet else [])
            to_check.update(plans[address][1])
        reached: set[str] = set()
        checks = sorted(to_check)
        for i in range(0, len(checks), 500):
            part = checks[i: i + 500]
            reached |= {r[0] for r in c.execute(
                f"SELECT address FROM addresses WHERE hop IS NOT NULL AND address IN ({','.join('?' * len(part))})",
                part)}
        changes = []
        for address, (genuine, others) in plans.items():
            genuine = (genuine | (reached & set(others))) - {address}
            by_shape = {(g[2:6], g[-4:]) for g in genuine}
            for tid, other, _, text in history[address]:
                flags = _flags_set(text)
                imitates = other not in genuine and (other[2:6], other[-4:]) in by_shape
                if imitates != (LOOKALIKE in flags):
                    changes.append((_flags_text(flags | {LOOKALIKE} if imitates else flags - {LOOKALIKE}), tid))
        if changes:
            c.executemany("UPDATE transfers SET flags=? WHERE id=?", changes)

    def outflows(self, address: str, since_block: int = 0) -> list[Transfer]:
        rows = self.conn.execute(
            "SELECT * FROM transfers WHERE from_addr=? AND block>=? ORDER BY block, id", (address, since_block)
        ).fetchall()
        return [transfer_from_row(r) for r in rows]

    def btc_spends(self, node: str, since_block: int = 0) -> list[Transfer]:
        """The outputs of the Bitcoin transactions `node` (btc:<address>) spent from, at or after `since_block`:
        those drawn from it (it was the first input) and those of transactions that tie it in as a co-spender
        (see tracer.btc)."""
        rows = self.conn.execute(
            "SELECT * FROM transfers WHERE kind='utxo' AND block>=? AND tx_hash IN ("
            " SELECT tx_hash FROM transfers WHERE (from_addr=? AND kind='utxo') OR (to_addr=? AND kind='co-spend'))"
            " ORDER BY block, id", (since_block, node, node)).fetchall()
        return [transfer_from_row(r) for r in rows]

    def transfers_of(self, address: str) -> list[Transfer]:
        rows = self.conn.execute(
            "SELECT * FROM transfers WHERE from_addr=? OR to_addr=? ORDER BY block, id", (address, address)
        ).fetchall()
        return [transfer_from_row(r) for r in rows]

    def counterparties(self, address: str) -> int:
        """Distinct counterparties in clean transfers: poisoning spam must not make a wallet look like a hub."""
        row = self.conn.execute(
            "SELECT count(*) FROM (SELECT to_addr AS a FROM transfers WHERE from_addr=? AND flags=''"
            " UNION SELECT from_addr FROM transfers WHERE to_addr=? AND flags='')",
            (address, address),
        ).fetchone()
        return int(row[0])

    def transfers_in_order(self, skip_poison: bool = False) -> Iterator[Transfer]:
        """Every stored transfer by block, then id (which starts with the tx hash): one transaction at a time.
        Read as plain tuples: at a million rows, named rows cost seconds."""
        rows = self.conn.cursor()
        rows.row_factory = None
        for (tx_hash, kind, position, block, timestamp, from_addr, to_addr, token, asset, decimals, amount, flags,
             log_index, memo) in rows.execute(
                "SELECT tx_hash, kind, position, block, timestamp, from_addr, to_addr, token, asset, decimals, amount,"
                " flags, log_index, memo FROM transfers ORDER BY block, id"):
            flag_set = _flags_set(flags)
            if skip_poison and flag_set & POISON_FLAGS:
                continue
            yield Transfer(tx_hash, kind, position, block, timestamp, from_addr, to_addr, token, asset, decimals,
                           int(amount), flag_set, log_index, memo)

    def count_transfers(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM transfers").fetchone()[0])

    def new_transfers_of_runs(self, run_ids: list[int]) -> list[Transfer]:
        marks = ",".join("?" * len(run_ids))
        rows = self.conn.execute(f"SELECT * FROM transfers WHERE first_run IN ({marks}) ORDER BY block, id", run_ids)
        return [transfer_from_row(r) for r in rows]

    def clean_inflows(self, address: str) -> list[Transfer]:
        rows = self.conn.execute("SELECT * FROM transfers WHERE to_addr=? AND flags='' ORDER BY block, id", (address,))
        return [transfer_from_row(r) for r in rows]
