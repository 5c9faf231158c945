"""What a case store holds and how it is read and written, whatever the backend: an analyst's SQLite file
(sqlite.py, the default) or a schema on a team's PostgreSQL server (postgres.py).

Why these rules:
- a transfer's identity is its primary key, so a rerun or a second source
  can never duplicate it (INSERT OR IGNORE);
- each address's fetch lands in one transaction together with its scan
  cursors, so a run killed at any moment loses at most the address in
  flight and the next run resumes from the cursors;
- amounts are TEXT: wei does not fit 64-bit integers, and floats
  would lose it.

The queries here are written once, in SQLite's SQL; a backend's connection (`self.conn`) takes them as they
are (PostgreSQL's translates the handful of idioms that differ). A backend supplies opening, creating and
upgrading, the one-run lock, transactions and the integrity check.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..models import LOOKALIKE, POISON_FLAGS, Transfer


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


def _flags_text(flags: Iterable[str]) -> str:
    return ",".join(sorted(flags))


_FLAG_SETS: dict[str, frozenset[str]] = {}


def _flags_set(text: str) -> frozenset[str]:
    """Parsed once per distinct text: a store holds millions of rows but a handful of flag combinations."""
    parsed = _FLAG_SETS.get(text)
    if parsed is None:
        parsed = _FLAG_SETS[text] = frozenset(f for f in text.split(",") if f)
    return parsed


def transfer_from_row(row: Any) -> Transfer:
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


TRANSFER_COLUMNS = ("id", "tx_hash", "kind", "position", "log_index", "block", "timestamp", "from_addr", "to_addr",
                    "token", "asset", "decimals", "amount", "flags", "source", "first_run", "memo")


class Store:
    """A tracer case store. Open with Store.open(path or URL): a file path (or sqlite:///path) is an SQLite
    file, a postgresql:// URL a case on a PostgreSQL server."""

    conn: Any  # the backend's connection: execute/executemany/cursor/total_changes, rows by index and by name
    location: str  # where the store is, as safe to print (a URL without its password)

    @staticmethod
    def open(target: str | os.PathLike[str], create: bool = True, write: bool | None = None) -> "Store":
        """create: make a new store if there is none. write: the caller will write (default: create);
        a store we may not write is then refused at once, and opened read-only for readers."""
        from .urls import is_postgres_url

        if is_postgres_url(str(target)):
            from .postgres import PostgresStore

            return PostgresStore.connect(str(target), create=create, write=write)
        from .sqlite import SqliteStore

        return SqliteStore.connect(target, create=create, write=write)

    @property
    def name(self) -> str:
        """A short name for reports: the file's name, or the case's."""
        return self.location

    @staticmethod
    def exists(target: str | os.PathLike[str]) -> bool:
        """Is there a store at `target` already (a file with content, a case's schema on the server)?"""
        from .urls import is_postgres_url

        if is_postgres_url(str(target)):
            from .postgres import PostgresStore

            return PostgresStore.case_exists(str(target))
        from .sqlite import SqliteStore

        return SqliteStore.file_exists(target)

    @staticmethod
    def shown(target: str | os.PathLike[str]) -> str:
        """How to name a store in output: a PostgreSQL URL without its password, a path as given."""
        from .urls import shown_store

        return shown_store(str(target))

    def __str__(self) -> str:
        return self.location

    # ---- what each backend supplies ------------------------------------------------------
    def close(self) -> None:
        raise NotImplementedError

    def acquire_lock(self, wait_seconds: float = 3.0) -> None:
        """Hold the store for one run; a second run waits briefly, then gives up clearly."""
        raise NotImplementedError

    def release_lock(self) -> None:
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """All or nothing; the backend's failures become one StoreError."""
        raise NotImplementedError
        yield

    def check_integrity(self) -> None:
        """Refuse to write into a damaged store (a trace would otherwise run on and make it worse)."""
        raise NotImplementedError

    def bulk_insert(self, c: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """INSERT OR IGNORE many rows inside the transaction `c` (PostgreSQL's connection takes a many-row
        INSERT by COPY); a row whose key is already stored stays as it is."""
        c.executemany(f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})",
                      rows)

    def fill_log_indexes(self, c: Any, pairs: list[tuple[int, str]]) -> None:
        """(log_index, transfer id): set where the stored transfer has none (a backend may do it in bulk)."""
        c.executemany("UPDATE transfers SET log_index=? WHERE id=? AND log_index IS NULL", pairs)

    def hold_snapshot(self) -> None:
        """From now on until close (or a write), every read sees the store as it is now: a reader (show,
        export, report, exits, store copy) sees one committed state, whatever a running trace commits."""
        raise NotImplementedError

    def after_bulk_copy(self) -> None:
        """After `tracer store copy` wrote rows with their own ids: what the backend must bring up to date."""

    # ---- runs --------------------------------------------------------------------
    def start_run(self, params: dict) -> int:
        with self.transaction() as c:
            # A run that never ended was killed: say so instead of leaving it "running".
            c.execute("UPDATE runs SET status='killed' WHERE status='running'")
            row = c.execute(
                "INSERT INTO runs (started_at, status, params) VALUES (?, 'running', ?) RETURNING id",
                (time.time(), json.dumps(params, sort_keys=True)),
            ).fetchone()
            return int(row[0])

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
                      " requests=usage.requests+excluded.requests", (day, service, requests))

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

    def runs(self) -> list[Any]:
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
            # one upsert per address (a bulk backend takes it whole); what it made new is counted, not changed
            before = c.execute("SELECT count(*) FROM addresses").fetchone()[0]
            c.executemany(
                "INSERT INTO addresses (address, first_run, hop, reach_block, category, followed, first_reached)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT(address) DO UPDATE SET hop=excluded.hop,"
                " reach_block=excluded.reach_block, category=excluded.category,"
                " followed=CASE WHEN excluded.followed=1 THEN 1 ELSE addresses.followed END,"
                " first_reached=COALESCE(addresses.first_reached, excluded.first_reached)",
                [(address, run_id, hop, reach, category, int(followed), run_id)
                 for address, (hop, reach, category, followed) in states.items()],
            )
            new = c.execute("SELECT count(*) FROM addresses").fetchone()[0] - before
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
                     include_removed: bool = False) -> list[Any]:
        sql, args = "SELECT * FROM synced_seeds WHERE 1=1", []
        if case:
            sql, args = sql + " AND case_name=?", args + [case]
        if chain:
            sql, args = sql + " AND chain=?", args + [chain]
        if not include_removed:
            sql += " AND removed_at IS NULL"
        return self.conn.execute(sql + " ORDER BY case_name, chain, address, source", args).fetchall()

    def seed_syncs(self) -> list[Any]:
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

    def imported_labels(self, address: str) -> list[Any]:
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
            "SELECT sum(CAST(amount AS BIGINT)) FROM transfers WHERE kind='utxo' AND to_addr=? AND memo=? AND"
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

    def exit_rows(self) -> list[Any]:
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

    def link_rows(self, min_confidence: float = 0.0) -> list[Any]:
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
            self.bulk_insert(
                c, "transfers", TRANSFER_COLUMNS, [
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
                self.fill_log_indexes(c, with_index)
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

    def _refresh_lookalikes(self, c: Any, addresses: list[str]) -> None:
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
        plain.row_factory = None  # plain tuples: a million Any objects cost seconds
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
            " UNION SELECT from_addr FROM transfers WHERE to_addr=? AND flags='') AS counterparties",
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
