"""The SQLite backend: the case file an analyst keeps between nightly runs (the default).

Why SQLite: one file per investigation, easy to copy and hand over; WAL lets readers read while a trace
writes; a lock file (flock) keeps two runs off one store.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from ..errors import StoreBusyError, StoreError
from .common import Store
from .schema import SCHEMA, MIGRATIONS, SCHEMA_VERSION

APPLICATION_ID = 0x54524352  # "TRCR": marks the file as ours, so foreign SQLite files are refused


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



class SqliteStore(Store):
    """A case file. Open with Store.open(path)."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path
        self.location = str(path)
        self._lock_fd: int | None = None

    @property
    def name(self) -> str:
        return self.path.name

    # ---- opening -----------------------------------------------------------------
    @staticmethod
    def file_exists(path: str | os.PathLike[str]) -> bool:
        return Path(str(path)[len("sqlite:///"):] if str(path).startswith("sqlite:///") else path).exists()

    @classmethod
    def connect(cls, path: str | os.PathLike[str], create: bool = True, write: bool | None = None) -> "SqliteStore":
        """See Store.open."""
        p = Path(str(path)[len("sqlite:///"):] if str(path).startswith("sqlite:///") else path)
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
            if not create:  # an empty file, or one another run is making right now: a reader never touches it
                conn.close()
                raise StoreError(f"no store at {p}: run `tracer trace` first")
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
        """The whole schema at SCHEMA_VERSION in one transaction: no other process ever sees a half-made or
        older store. Another run that made it between our look and our write lock is left alone."""
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(
                "BEGIN IMMEDIATE;"
                + SCHEMA
                + "".join(MIGRATIONS[v] for v in range(2, SCHEMA_VERSION + 1))
                + f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');"
                + f"PRAGMA application_id={APPLICATION_ID};"
                + "COMMIT;"
            )
        except sqlite3.DatabaseError as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if "already exists" in str(exc):  # made, whole, by another run meanwhile: open it as it is
                self._check_version()
                return
            error = store_error(self.path, exc, "create it")
            self.conn.close()
            if not isinstance(error, StoreBusyError):  # (busy: the file is another run's, never ours to delete)
                for suffix in ("", "-wal", "-shm"):  # a half-made store is worth nothing: leave no file behind
                    Path(str(self.path) + suffix).unlink(missing_ok=True)
            raise error from None

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
        """A lock file (flock) beside the store: the kernel releases it when a run dies, so a killed run never
        leaves a stale lock."""
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
        if self.conn.in_transaction:  # a reader's snapshot (hold_snapshot): end it before writing
            self.conn.execute("COMMIT")
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

    def hold_snapshot(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")  # deferred: a WAL read transaction, one snapshot until it ends

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
