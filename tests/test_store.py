import sqlite3

import pytest

from tracer.errors import StoreBusyError, StoreError
from tracer.models import ERC20, Transfer
from tracer.store import SCHEMA_VERSION, Cursor, Store

A = "0x47666fab8bd0ac7003bce3f5c3585383f09486e2"
B = "0xa4b2fd68593b6f34e51cb9edb66e71c1b4ab449e"


def transfer(position="x.0", amount=10**24) -> Transfer:
    return Transfer("0x" + "ab" * 32, ERC20, position, 100, 1740148487, A, B,
                    "0xae7ab96520de3a18e5e111b5eaab095312d7fe84", "stETH", 18, amount)


def test_new_store_has_schema_version_and_marks_itself(store_at):
    store = Store.open(store_at)
    assert store.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    store.close()
    Store.open(store_at).close()  # reopens fine


def test_transfers_are_unique_and_exact(store_at):
    store = Store.open(store_at)
    huge = 2**200 + 1
    assert store.commit_fetch(A, [transfer(amount=huge)], {"tokentx": Cursor(0, 100)}, "test", 1) == 1
    assert store.commit_fetch(A, [transfer(amount=huge)], {"tokentx": Cursor(0, 100)}, "test", 2) == 0
    assert store.count_transfers() == 1
    assert store.outflows(A)[0].amount == huge
    assert store.cursor(A, "tokentx") == Cursor(0, 100)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nope" / "case.db")


def test_non_sqlite_file_is_refused_and_untouched(tmp_path):
    p = tmp_path / "notes.db"
    p.write_bytes(b"my precious notes\n" * 10)
    with pytest.raises(StoreError, match="not an SQLite file"):
        Store.open(p)
    assert p.read_bytes() == b"my precious notes\n" * 10


def test_foreign_sqlite_file_is_refused_and_untouched(tmp_path):
    p = tmp_path / "other.db"
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    before = p.read_bytes()
    with pytest.raises(StoreError, match="another application"):
        Store.open(p)
    assert p.read_bytes() == before


def test_corrupt_store_is_refused(db_path):
    Store.open(db_path).close()
    data = bytearray(db_path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    db_path.write_bytes(bytes(data))
    with pytest.raises(StoreError):
        Store.open(db_path)


def test_store_from_a_newer_tracer_is_refused(db_path):
    store = Store.open(db_path)
    store.conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    store.close()
    with pytest.raises(StoreError, match="newer tracer"):
        Store.open(db_path)


def test_second_run_on_one_store_waits_briefly_then_gives_up(store_at):
    first = Store.open(store_at)
    first.acquire_lock()
    second = Store.open(store_at)
    with pytest.raises(StoreBusyError, match="in use by another tracer run"):
        second.acquire_lock(wait_seconds=0.3)
    first.close()
    second.acquire_lock(wait_seconds=0.3)  # free once the first run ends
    second.close()


def test_lookalike_recipients_are_flagged_against_real_counterparties(store_at):
    store = Store.open(store_at)
    real = transfer("a.0")
    fake_to = "0xa4b24033f4c6d70133e4557c2c32a3fb693e449e"  # shares a4b2…449e with B
    fake = Transfer("0x" + "cd" * 32, ERC20, "b.0", 101, 1, A, fake_to, real.token, "stETH", 18, 0,
                    frozenset({"zero-value"}))
    store.commit_fetch(A, [fake, real], {}, "test", 1)
    flags = {t.to_addr: t.flags for t in store.outflows(A)}
    assert "lookalike" in flags[fake_to] and "lookalike" not in flags[B]


def test_a_version_1_store_is_upgraded_in_place_without_loss(db_path):
    from tracer.store.schema import SCHEMA as _SCHEMA
    from tracer.store.sqlite import APPLICATION_ID

    conn = sqlite3.connect(db_path)
    conn.executescript(_SCHEMA + "INSERT INTO meta VALUES ('schema_version', '1');"
                       f"PRAGMA application_id={APPLICATION_ID};")
    conn.execute("INSERT INTO transfers (id, tx_hash, kind, position, block, timestamp, from_addr, to_addr, token,"
                 " asset, decimals, amount, source) VALUES ('k', 'h', 'native', '0', 1, 1, 'a', 'b', 'ETH', 'ETH',"
                 " 18, '5', 'x')")
    conn.commit()
    conn.close()
    store = Store.open(db_path)
    assert store.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert store.count_transfers() == 1
    store.conn.execute("SELECT memo FROM transfers").fetchall()
    store.conn.execute("SELECT * FROM labels").fetchall()
    store.close()


def test_a_big_batch_goes_in_whole_and_fills_log_indexes_once(store_at):
    """Past 2,000 rows PostgreSQL takes a batch by COPY through a staging table: duplicates stay single, a
    transfer stored without its log index gets it from a later source, and the count of new rows is right."""
    from dataclasses import replace

    store = Store.open(store_at)
    batch = [transfer(f"{i}.0", amount=i + 1) for i in range(2500)]
    assert store.commit_fetches([(A, batch, {"tokentx": Cursor(0, 100)})], "explorer", 1) == 2500
    with_index = [replace(t, log_index=i) for i, t in enumerate(batch)] + [transfer("new.0")]
    assert store.commit_fetches([(A, with_index, {"tokentx": Cursor(0, 100)})], "node", 2) == 1
    assert store.count_transfers() == 2501
    stored = {t.position: t for t in store.outflows(A)}
    assert stored["2499.0"].log_index == 2499 and stored["2499.0"].amount == 2500
    store.close()


def test_a_store_being_created_by_another_run_is_never_touched(db_path):
    """A reader (or a second trace) opening the file while a trace is still creating it must neither create
    nor delete it: once, a reader deleted a store being made, and the trace wrote on into an unlinked file."""
    maker = sqlite3.connect(db_path, isolation_level=None)
    maker.execute("PRAGMA journal_mode=WAL")
    maker.execute("BEGIN IMMEDIATE")
    maker.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")  # not committed yet
    assert db_path.stat().st_size > 0
    with pytest.raises(StoreError, match="no store"):
        Store.open(db_path, create=False)
    with pytest.raises(StoreBusyError):
        Store.open(db_path)  # a second writer waits for the write lock, then gives up, leaving the file
    assert db_path.exists()
    maker.execute("ROLLBACK")
    maker.close()
    first, second = Store.open(db_path), Store.open(db_path)  # the second opens what the first made
    assert second.count_transfers() == first.count_transfers() == 0
    first.close()
    second.close()
