"""`tracer store copy`: a case moved whole between any two stores (an SQLite file to a PostgreSQL case to share
it, and back to hand a file to someone). Every table's every row, as stored (runs keep their ids, cursors
their blocks, amounts their exact text), read from one snapshot of the source, written in one transaction:
a copy killed half-way leaves the destination as it was."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import InputError
from .common import Store

# every table but meta (each store has its own, at the same schema version once opened)
TABLES = ("addresses", "transfers", "cursors", "runs", "labels", "exits", "decoded_txs", "mixer_links", "balances",
          "announced_exits", "usage", "seed_syncs", "synced_seeds")
CHUNK = 50_000


def row_counts(store: Store) -> dict[str, int]:
    return {t: int(store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}


def copy_store(source: Store, destination: Store, replace: bool = False,
               progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every row of `source` into `destination` (both open; the destination held by its run lock).
    A destination holding anything is refused unless `replace` (its rows are then deleted in the same
    transaction). Returns the rows copied per table."""
    source.hold_snapshot()
    held = {t: n for t, n in row_counts(destination).items() if n}
    if held and not replace:
        raise InputError(f"{destination.location} is not empty ({', '.join(f'{n:,} {t}' for t, n in held.items())});"
                         " nothing was copied (--replace to overwrite it)")
    copied: dict[str, int] = {}
    with destination.transaction() as c:
        for table in TABLES:
            c.execute(f"DELETE FROM {table}")
        for table in TABLES:
            columns: tuple[str, ...] = ()
            chunk: list[tuple] = []
            copied[table] = 0
            rows = source.conn.execute(f"SELECT * FROM {table}")
            for row in rows:
                if not columns:
                    columns = tuple(row.keys())
                chunk.append(tuple(row))
                if len(chunk) >= CHUNK:
                    destination.bulk_insert(c, table, columns, chunk)
                    copied[table] += len(chunk)
                    chunk = []
                    if progress:
                        progress(table, copied[table])
            if chunk:
                destination.bulk_insert(c, table, columns, chunk)
                copied[table] += len(chunk)
    destination.after_bulk_copy()
    return copied
